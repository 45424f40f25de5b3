"""Run every labbook benchmark: ``.venv/bin/python bench/run.py [--quick] [--only NAME ...]``.

``bench_core.py`` runs first (it also creates MLflow's environment, ``~/.cache/labbook-bench/envs/mlflow``, on
first use), then every other ``bench/bench_*.py`` in name order. Each runs as its own process,
with this interpreter, its output streamed as it comes. ``--quick`` passes ``--quick`` to every
script that accepts it and sets ``LABBOOK_BENCH_QUICK=1`` for all. ``--only core --only media``
runs just those (``core``, ``bench_core`` and ``bench_core.py`` all name the same script).

The exit status is non-zero when a script fails; the closing table lists each script's status
and time. Figures are explained in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = "bench_core.py"


def scripts() -> list[Path]:
    """``bench_core.py``, then the other ``bench_*.py`` by name."""
    found = sorted(HERE.glob("bench_*.py"), key=lambda p: (p.name != FIRST, p.name))
    return [path for path in found if path.is_file()]


def short_name(path: Path) -> str:
    return path.stem.removeprefix("bench_")


def select(found: list[Path], only: list[str]) -> list[Path]:
    if not only:
        return found
    wanted = {name.removesuffix(".py").removeprefix("bench_") for name in only}
    unknown = wanted - {short_name(p) for p in found}
    if unknown:
        known = ", ".join(short_name(p) for p in found)
        raise SystemExit(f"--only {', '.join(sorted(unknown))}: no such benchmark. Known: {known}.")
    return [p for p in found if short_name(p) in wanted]


def accepts(path: Path, flag: str) -> bool:
    """Whether the script declares ``flag`` (scripts are standalone; not all take --quick)."""
    return flag in path.read_text(encoding="utf-8", errors="replace")


def run_one(path: Path, quick: bool, extra: list[str]) -> int:
    command = [sys.executable, str(path)]
    if quick and accepts(path, "--quick"):
        command.append("--quick")
    command += extra
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if quick:
        env["LABBOOK_BENCH_QUICK"] = "1"
    print(f"\n######## {path.name}: {' '.join(command[1:])}", flush=True)
    try:
        return subprocess.run(command, env=env, cwd=HERE.parent).returncode
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run labbook's benchmarks (bench/bench_*.py).")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 2 minutes per script")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this benchmark (core, media, ...); repeatable")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args, extra = parser.parse_known_args(argv)  # anything else goes to every script
    found = scripts()
    if args.list:
        print("\n".join(short_name(p) for p in found))
        return 0
    chosen = select(found, args.only)
    results = []
    started = time.monotonic()
    for path in chosen:
        began = time.monotonic()
        code = run_one(path, args.quick, extra)
        results.append((path.name, code, time.monotonic() - began))
        if code == 130:
            break
    print("\n######## summary")
    for name, code, seconds in results:
        print(f"  {'ok  ' if code == 0 else 'FAIL'} {name:<28} {seconds:7.1f} s"
              + (f"  (exit status {code})" if code else ""))
    print(f"  total {time.monotonic() - started:.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
