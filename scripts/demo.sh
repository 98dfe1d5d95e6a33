#!/usr/bin/env bash
# One command: set up .venv, create the embedded SQLite database, load the bundled sample data
# through the real ingestion path, and start the API (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv
.venv/bin/sentiment-service prepare-models  # once: converts the multilingual encoder
exec .venv/bin/sentiment-service demo "$@"
