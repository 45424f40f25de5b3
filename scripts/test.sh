#!/usr/bin/env bash
# Install what the tests need into .venv (created if missing) and run the whole suite.
# Extra arguments go to pytest: bash scripts/test.sh tests/test_catalog.py -k filter
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv test
exec .venv/bin/python -m pytest "$@"
