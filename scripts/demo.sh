#!/usr/bin/env bash
# One command: set up .venv, create the embedded SQLite database, load the bundled sample data
# through the real ingestion path, and start the API (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv
exec .venv/bin/sentiment-service demo "$@"
