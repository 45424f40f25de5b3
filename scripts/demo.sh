#!/usr/bin/env bash
# Install labbook with every optional extra into .venv (created if missing), log the demo project
# into the embedded home (./.labbook) and show it. Extra arguments go to `labbook demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv all
ensure_ui
# The home is ./.labbook here (unless LABBOOK_HOME says otherwise), not one found further up.
export LABBOOK_HOME="${LABBOOK_HOME:-$PWD/.labbook}"
exec .venv/bin/labbook demo "$@"
