#!/usr/bin/env bash
# Install labbook with every optional extra into .venv (created if missing), log the demo project
# into the embedded home (./.labbook) and show it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[all]'
exec .venv/bin/labbook demo "$@"
