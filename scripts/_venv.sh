# Sourced by the other scripts: makes .venv with Python 3.11+ and installs the project into it.
# Re-installs only when pyproject.toml or requirements.lock changed since the last install.

ensure_venv() {
    local extras="${1:-}"
    local python="${PYTHON:-}"
    if [ -z "$python" ]; then
        for candidate in python3.11 python3.12 python3; do
            if command -v "$candidate" >/dev/null 2>&1 &&
                "$candidate" -c 'import sys; sys.exit(not ((3, 11) <= sys.version_info[:2] < (3, 13)))'; then
                python="$candidate"
                break
            fi
        done
    fi
    if [ -z "$python" ]; then
        echo "error: Python 3.11 or 3.12 is required (set PYTHON=/path/to/python3.11)" >&2
        return 1
    fi
    [ -x .venv/bin/python ] || "$python" -m venv .venv
    local stamp=".venv/.installed${extras:+-${extras//,/-}}"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
        echo "installing the project into .venv (first run takes a few minutes)..." >&2
        .venv/bin/python -m pip install --quiet --upgrade pip >&2
        .venv/bin/python -m pip install --quiet -c requirements.lock -e ".${extras:+[$extras]}" >&2
        touch "$stamp"
    fi
}
