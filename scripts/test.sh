#!/usr/bin/env bash
# Install what the tests need into .venv (created if missing), build the dashboard when its sources
# changed, run its TypeScript unit tests, then the quality gate (ruff check, mypy; configured in
# pyproject.toml), then the whole Python suite.
# Extra arguments go to pytest: bash scripts/test.sh tests/test_catalog.py -k filter
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv test
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq chromium
fi
ensure_ui
if [ -d ui/node_modules ]; then (cd ui && npm test); fi
.venv/bin/python -m ruff check .
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest "$@"
