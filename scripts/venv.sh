# Sourced by demo.sh and test.sh: make sure .venv exists and holds labbook with the given extras.
# Usage: ensure_venv EXTRAS   (e.g. ensure_venv all)
ensure_venv() {
  local python="${PYTHON:-python3}"
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --upgrade pip
  if [ "$1" = "test" ]; then  # the CPU wheel, pinned: a plain "torch" would pull the CUDA build
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
  fi
  .venv/bin/python -m pip install --quiet -e ".[$1]"
}
