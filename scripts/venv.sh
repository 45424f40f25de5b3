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
  .venv/bin/python -m pip install --quiet -e ".[$1]"
}
