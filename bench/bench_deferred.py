"""What a logging process pays after ``end()``: whole processes, from start to exit.

``end()`` leaves a run's catalog row to the process's indexer thread (or its exit), and the
catalog of a new home is created by that thread's first pass, not at ``init()``
(docs/system.md). ``bench_fresh.py`` times ``init()`` to ``end()``; this script times what a
user waits for in all, the process from its start to its exit, so nothing left for later is
left out:

* ``import``: a process that imports ``labbook.tracking`` and exits (the floor);
* ``first run``: the same, plus one empty run in a new home (capture off);
* ``1,000 runs``: the same, plus 1,000 empty runs one after the other; the process also prints
  its loop's time, so its exit's share (the rows written at exit) is the rest.

Each figure is the median of ``--reps`` processes, the kinds interleaved. ``--base-src PATH``
alternates every measurement with another checkout's ``src`` (A/B, same machine, same minutes).

    .venv/bin/python bench/bench_deferred.py [--reps 9 | --quick] [--base-src ../other/src] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(HERE))
from report import machine  # noqa: E402

QUIET = "track_code=False, track_env=False, track_logs=False, collect_resources=False"
SCRIPTS = {
    "import": "from labbook import tracking\n",
    "first run": f"from labbook import tracking\ntracking.init(project='p', {QUIET})\ntracking.end()\n",
    "1,000 runs": (
        "import time\nfrom labbook import tracking\n"
        f"tracking.init(project='p', {QUIET}); tracking.end()\n"
        "started = time.perf_counter()\n"
        f"for _ in range(1000):\n    tracking.init(project='p', {QUIET}); tracking.end()\n"
        "print(time.perf_counter() - started)\n"
    ),
}


def measure(script: str, src: Path, tmp: str) -> tuple[float, float | None]:
    """(wall seconds of one process running ``script`` with ``src`` first on its path, in a new
    home under ``tmp``; the loop's seconds it printed, if any). The homes are deleted together at
    the end: on this machine's ext4 (mounted with discard) folders deleted between measurements
    were seen to slow the next ones' file operations several times over."""
    root = tempfile.mkdtemp(dir=tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABBOOK_")}  # the user's settings stay out
    env.update(LABBOOK_HOME=os.path.join(root, ".labbook"), PYTHONPATH=str(src))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=600, cwd=root)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"a measurement failed:\n{done.stderr[-2000:]}")
    printed = done.stdout.strip()
    return wall, float(printed) if printed else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="3 repetitions")
    parser.add_argument("--base-src", type=Path, help="another checkout's src/, measured alternately")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "deferred.json")
    args = parser.parse_args()
    if args.quick:
        args.reps = 3
    info = machine()
    trees = {"this": SRC}
    if args.base_src:
        trees["base"] = args.base_src.resolve()
    values: dict[str, dict[str, list[list[float | None]]]] = {t: {k: [] for k in SCRIPTS} for t in trees}
    with tempfile.TemporaryDirectory(prefix="labbook-bench-deferred-") as tmp:
        for rep in range(args.reps):
            for kind, script in SCRIPTS.items():
                for tree, src in trees.items():
                    values[tree][kind].append(list(measure(script, src, tmp)))
            print(f"repetition {rep + 1}/{args.reps} done", file=sys.stderr)
    result: dict[str, dict[str, float]] = {}
    for tree in trees:
        walls = {kind: statistics.median(v[0] for v in values[tree][kind]) for kind in SCRIPTS}
        loops = [v[1] for v in values[tree]["1,000 runs"] if v[1] is not None]
        loop = statistics.median(loops)
        result[tree] = {
            "import_ms": walls["import"] * 1e3,
            "first_run_process_ms": walls["first run"] * 1e3,
            "runs_process_ms": walls["1,000 runs"] * 1e3,
            "first_run_ms": (walls["first run"] - walls["import"]) * 1e3,
            "runs_total_ms_per_run": (walls["1,000 runs"] - walls["import"]) / 1000 * 1e3,
            "runs_loop_ms_per_run": loop / 1000 * 1e3,
            "runs_after_loop_ms": (walls["1,000 runs"] - walls["import"] - loop) * 1e3,
        }
        r = result[tree]
        print(f"{tree} ({trees[tree]}): a process that imports only {r['import_ms']:.0f} ms; one that "
              f"also logs the first run in a new home {r['first_run_process_ms']:.0f} ms (minus import "
              f"{r['first_run_ms']:.1f} ms); one with 1,000 runs {r['runs_process_ms']:.0f} ms: "
              f"{r['runs_loop_ms_per_run']:.3f} "
              f"ms per run in the loop, {r['runs_total_ms_per_run']:.3f} ms per run in all "
              f"(the rest, the untimed first run and the exit: {r['runs_after_loop_ms']:.0f} ms)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"reps": args.reps, "machine": info, "trees": {t: str(p) for t, p in trees.items()},
                                     "medians": result, "values": values}, indent=1))
    print(f"result written to {args.json}")


if __name__ == "__main__":
    main()
