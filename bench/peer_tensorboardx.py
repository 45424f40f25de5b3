"""tensorboardX's side of bench_fresh.py, run in its own environment (see peers.py): ONE
measurement per process. Usage: ``<env>/bin/python bench/peer_tensorboardx.py '<json spec>'``.

A run is a ``SummaryWriter`` on a log folder of its own; a metric point is ``add_scalar``;
durable means ``flush()`` returned (its background thread has written the events to the file).
``import tensorboardX`` happens before any timer, as in a training script.
"""

import os

from worker import emit, main, peak_mb, perf  # bench/ is on sys.path: it holds this script


def task_log_metric(spec, root):
    from tensorboardX import SummaryWriter

    calls = spec["peer_calls"]
    writer = SummaryWriter(os.path.join(root, "log"))
    log = writer.add_scalar
    started = perf()
    for step in range(calls):
        log("loss", 0.5, step)
    called = perf()
    writer.flush()
    durable = perf()
    writer.close()
    emit("log_metric.call_us", (called - started) / calls * 1e6, n=calls)
    emit("log_metric.durable_us", (durable - started) / calls * 1e6, n=calls)
    emit("log_metric.peak_mb", peak_mb(), n=calls)


def task_log_metrics(spec, root):
    """One ``add_scalar`` per metric per step (``add_scalars`` opens a writer per tag)."""
    from tensorboardX import SummaryWriter

    count, steps = spec["metrics"], spec["peer_steps"]
    names = [f"m{i}" for i in range(count)]
    writer = SummaryWriter(os.path.join(root, "log"))
    log = writer.add_scalar
    started = perf()
    for step in range(steps):
        for name in names:
            log(name, 0.5, step)
    called = perf()
    writer.flush()
    durable = perf()
    writer.close()
    emit("log_metrics.call_us", (called - started) / (count * steps) * 1e6, n=count * steps)
    emit("log_metrics.durable_us", (durable - started) / (count * steps) * 1e6, n=count * steps)


def task_create_runs(spec, root):
    from tensorboardX import SummaryWriter

    runs = spec["runs"]
    SummaryWriter(os.path.join(root, "warm-up")).close()
    started = perf()
    for index in range(runs):
        SummaryWriter(os.path.join(root, f"run-{index}")).close()
    emit("create_runs.ms_per_run", (perf() - started) / runs * 1e3, n=runs)


def task_first_run(spec, root):
    from tensorboardX import SummaryWriter

    started = perf()
    SummaryWriter(os.path.join(root, "runs", "first")).close()
    emit("first_run.s", perf() - started)


def prepare(spec):
    import tensorboardX  # noqa: F401 - imported before any timer


TASKS = {"log_metric": task_log_metric, "log_metrics": task_log_metrics,
         "create_runs": task_create_runs, "first_run": task_first_run}

if __name__ == "__main__":
    main(TASKS, prepare)
