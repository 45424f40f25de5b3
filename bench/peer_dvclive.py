"""DVCLive's side of bench_fresh.py, run in its own environment (see peers.py): ONE measurement
per process. Usage: ``<env>/bin/python bench/peer_dvclive.py '<json spec>'``.

A run is ``Live(dir, save_dvc_exp=False, dvcyaml=None)`` (no DVC repository, no experiment
commit), ended with ``end()``. A metric point is ``live.step = step; live.log_metric(name, v)``,
which appends a line to the metric's TSV file before it returns (durable when it returns);
``next_step()`` is not used per point, as it rewrites the summary every step. ``import dvclive``
happens before any timer.
"""

import logging
import os

from worker import emit, main, peak_mb, perf  # bench/ is on sys.path: it holds this script


def live(folder):
    from dvclive import Live

    return Live(folder, save_dvc_exp=False, dvcyaml=None)


def task_log_metric(spec, root):
    calls = spec["peer_calls"]
    run = live(os.path.join(root, "log"))
    log = run.log_metric
    started = perf()
    for step in range(calls):
        run.step = step
        log("loss", 0.5)
    elapsed = perf() - started
    run.end()
    emit("log_metric.call_us", elapsed / calls * 1e6, n=calls)
    emit("log_metric.durable_us", elapsed / calls * 1e6, n=calls)
    emit("log_metric.peak_mb", peak_mb(), n=calls)


def task_log_metrics(spec, root):
    count, steps = spec["metrics"], spec["peer_steps"]
    names = [f"m{i}" for i in range(count)]
    run = live(os.path.join(root, "log"))
    log = run.log_metric
    started = perf()
    for step in range(steps):
        run.step = step
        for name in names:
            log(name, 0.5)
    elapsed = perf() - started
    run.end()
    emit("log_metrics.call_us", elapsed / (count * steps) * 1e6, n=count * steps)
    emit("log_metrics.durable_us", elapsed / (count * steps) * 1e6, n=count * steps)


def task_create_runs(spec, root):
    runs = spec["runs"]
    live(os.path.join(root, "warm-up")).end()
    started = perf()
    for index in range(runs):
        live(os.path.join(root, f"run-{index}")).end()
    emit("create_runs.ms_per_run", (perf() - started) / runs * 1e3, n=runs)


def task_first_run(spec, root):
    started = perf()
    live(os.path.join(root, "dvclive")).end()
    emit("first_run.s", perf() - started)


def prepare(spec):
    import dvclive  # noqa: F401 - imported before any timer

    logging.getLogger("dvclive").setLevel(logging.ERROR)  # "not a git repo" warnings


TASKS = {"log_metric": task_log_metric, "log_metrics": task_log_metrics,
         "create_runs": task_create_runs, "first_run": task_first_run}

if __name__ == "__main__":
    main(TASKS, prepare)
