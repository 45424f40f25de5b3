# Sourced by demo.sh and test.sh: make sure .venv exists and holds labbook with the given extras.
# Usage: ensure_venv EXTRAS   (e.g. ensure_venv all)
ensure_venv() {
  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  # The test extra's frameworks need torch: install the CPU build first so they reuse it.
  if [ "$1" = test ]; then .venv/bin/python -m pip install --quiet torch==2.13.0; fi
  # Pinned to the versions last tested (on Python 3.11; see the file's header), so pip never
  # backtracks through hundreds of releases of boto3 and friends.
  .venv/bin/python -m pip install --quiet -c scripts/constraints.txt -e ".[$1]"
}

# Build the dashboard (ui/ -> src/labbook/dashboard/static) when it is missing or older than its
# sources; needs Node.js and npm. Without them it says so and goes on (the browser tests then skip).
ensure_ui() {
  if ! command -v npm >/dev/null; then
    echo "npm not found: the dashboard is not built (install Node.js >= 20.19 to build it)." >&2
    return 0
  fi
  local stamp=src/labbook/dashboard/static/.build-stamp sources
  sources=$(find ui/src ui/scripts ui/index.html ui/package.json ui/package-lock.json ui/vite.config.ts ui/tsconfig.json \
    -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [ ! -d ui/node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sources" ]; then
    (cd ui && npm ci --no-audit --no-fund && npm run build)
    echo "$sources" > "$stamp"
  fi
}
