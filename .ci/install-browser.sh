#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard browser tests (tests/dashboard, marker "browser").
# Idempotent: does nothing when /usr/bin/chromium is already there. Uses sudo only when not root.
# The tests drive it with Playwright for Python (executable_path=/usr/bin/chromium), so no
# Playwright browser download is needed.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo unknown)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "need root or sudo to install chromium" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
