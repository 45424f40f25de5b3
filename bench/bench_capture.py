"""Overhead of system capture (fd-level log capture + resource sampling + heartbeat).

The workload is a CPU-bound pure-Python loop that prints one line per step, the worst case for
log capture: every line crosses a pipe and a reader thread that competes for the GIL. It runs in
a fresh subprocess per repetition, the variants interleaved. Only the loop is timed, after 1500
untimed warm-up steps: interpreter start, ``init()`` and the capture's one-off start (the
sampler's imports and first sample, tens of ms on a background thread) are not; this is the
steady-state cost a long training loop pays. The best of many short repetitions is the figure
least disturbed by other load on the machine; the median is shown too. Stdout modes:

* ``buffered``: stdout is a pipe, so Python buffers it (what a launcher or ``> file`` gives);
* ``unbuffered``: ``PYTHONUNBUFFERED=1``, one write per line (what a terminal or ``flush=True`` gives).

Three variants per stdout mode: ``untracked`` (no labbook), ``no capture`` (``tracking.init``
with ``track_logs=False, collect_resources=False``: the run writer and heartbeat only) and
``capture`` (``tracking.init()`` defaults: logs captured, resources every ``--interval`` seconds,
10 s as shipped). The capture's own cost is ``capture`` against ``no capture``.

    .venv/bin/python bench/bench_capture.py [--quick] [--steps N] [--reps N] [--interval S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 1500  # untimed steps first (about 1.5 s): past the sampler's start and first sample

LOOP = """
    import resource, sys, time
    TRACKED, CAPTURE = {tracked}, {capture}
    if TRACKED:
        from labbook import tracking
        run = tracking.init(project="bench", track_env=False, track_code=False,
                            track_logs=CAPTURE, collect_resources=CAPTURE,
                            resources_interval={interval})

    def work(n):
        total = 0
        for i in range(n):
            total += (i * i) % 7
        return total

    def cpu():
        usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
        return usage.ru_utime + usage.ru_stime

    def capture_cpu():  # CPU time of the capture's own threads, precise per thread
        import threading
        total = 0.0
        for thread in threading.enumerate():
            if thread.name.startswith(("labbook-logs", "labbook-resources", "labbook-heartbeat")):
                total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        return total

    for step in range({warmup}):  # untimed: the capture's one-off start (imports, first sample)
        value = work({work})
        print(f"warm-up {{step}} value {{value}}")
    start, start_cpu, start_capture = time.perf_counter(), cpu(), capture_cpu()
    for step in range({steps}):
        value = work({work})
        print(f"step {{step}} value {{value}} loss {{1 / (step + 1):.6f}}")
    elapsed, used = time.perf_counter() - start, cpu() - start_cpu
    threads = capture_cpu() - start_capture
    if TRACKED:
        tracking.end()
    print("ELAPSED", elapsed, used, threads, file=sys.stderr)
"""


def one(variant: str, unbuffered: bool, steps: int, work: int, interval: float,
        home: str) -> tuple[float, float, float]:
    """(wall s, CPU s of every thread, CPU s of the capture's threads) of the loop, in a fresh
    process."""
    code = textwrap.dedent(LOOP.format(tracked=variant != "untracked", capture=variant == "capture",
                                       steps=steps, work=work, interval=interval, warmup=WARMUP))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LABBOOK_", "POLYAXON_"))}
    env["LABBOOK_HOME"] = home
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONHASHSEED"] = "0"  # the same hashing in every child: less variance between them
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    else:
        env.pop("PYTHONUNBUFFERED", None)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{result.stderr}")
    if result.stdout.count("\n") != steps + WARMUP:
        raise SystemExit(f"expected {steps + WARMUP} lines on the console, got {result.stdout.count(chr(10))}")
    wall, used, threads = result.stderr.rsplit("ELAPSED", 1)[1].split()[:3]
    return float(wall), float(used), float(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repetitions")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--work", type=int, default=20000,
                        help="loop iterations per step (20000: about 1 ms)")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--interval", type=float, default=10.0, help="resources_interval, seconds")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("LABBOOK_BENCH_QUICK") == "1"
    steps = args.steps or (500 if quick else 1500)
    reps = args.reps or (3 if quick else 11)
    variants = ("untracked", "no capture", "capture")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = str(Path(tmp) / ".labbook")
        one("capture", False, 10, 10, args.interval, home)  # warm: catalog created, files cached
        for unbuffered in (False, True):
            runs: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
            for _ in range(reps):  # interleaved, so drift in machine load hits all alike
                for variant in variants:
                    runs[variant].append(one(variant, unbuffered, steps, args.work, args.interval, home))
            rows.append(("unbuffered" if unbuffered else "buffered", runs))
    print(f"capture overhead: {steps} steps x {args.work} iterations, one printed line per step, "
          f"{reps} reps of each variant, interleaved; resources every {args.interval:g} s")
    print("untracked: no labbook; no capture: init(track_logs=False, collect_resources=False); "
          "capture: init() defaults. Best of the reps (least disturbed), then the median.")
    print(f"{'stdout':<12}{'variant':<12}{'wall best':>10}{'+%':>8}{'cpu best':>10}{'+%':>8}"
          f"{'wall med.':>10}{'+%':>8}{'cpu med.':>10}{'+%':>8}{'threads':>9}")
    for name, runs in rows:
        figures = {v: (min(x[0] for x in r), min(x[1] for x in r),
                       statistics.median(x[0] for x in r), statistics.median(x[1] for x in r))
                   for v, r in runs.items()}
        base = figures["untracked"]
        for variant in variants:
            cells = "".join(f"{value:>10.3f}{100 * (value - ref) / ref:>7.2f}%"
                            for value, ref in zip(figures[variant], base))
            threads = statistics.median(x[2] / x[0] for x in runs[variant])
            print(f"{name:<12}{variant:<12}{cells}{100 * threads:>8.2f}%")
    print("cpu: user+system time of every thread over the loop. threads: CPU time of the "
          "capture's own threads (logs, resources, heartbeat) as a share of the loop's wall time, "
          "median; measured per thread, so other load on the machine barely moves it.")


if __name__ == "__main__":
    main()
