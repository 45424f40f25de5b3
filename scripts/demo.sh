#!/usr/bin/env bash
# Install labbook with every optional extra into .venv (created if missing), build the dashboard,
# log the demo project into the embedded home (./.labbook), show it in the terminal, then serve it
# in the dashboard on 127.0.0.1 (the URL is printed; Ctrl+C stops it). Extra arguments go to
# `labbook demo`; LABBOOK_DEMO_SERVE=0 skips the dashboard.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv all
ensure_ui
# The home is ./.labbook here (unless LABBOOK_HOME says otherwise), not one found further up.
export LABBOOK_HOME="${LABBOOK_HOME:-$PWD/.labbook}"
.venv/bin/labbook demo "$@"
if [ "${LABBOOK_DEMO_SERVE:-1}" != 0 ]; then
  # Open a browser only where there is a screen to show it on.
  browser=()
  if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "$(uname)" != Darwin ]; then browser=(--no-browser); fi
  exec .venv/bin/labbook ui "${browser[@]}"
fi
