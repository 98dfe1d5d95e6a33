#!/usr/bin/env bash
# One command: set up .venv with the dev and distributed (Ray) extras and run every test.
# PostgreSQL tests use SENTIMENT_SERVICE_TEST_POSTGRES_URL (default: the server on
# 127.0.0.1:5432); they are skipped if it is unreachable unless
# SENTIMENT_SERVICE_TEST_REQUIRE_POSTGRES=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv dev,distributed
exec .venv/bin/python -m pytest "$@"
