"""MLflow's side of bench_core: run inside MLflow's own environment (see peers.py).

Usage: ``~/.cache/labbook-bench/envs/mlflow/bin/python bench/peer_mlflow.py '<json spec>'``. The spec names the
tasks and sizes; every figure is printed as one JSON line on stdout as soon as it is measured::

    {"figure": "mlflow.log_metric.file.call_us", "value": 480.1}

Stores live in a temporary folder: the file store (``file://``, MLflow's fastest per call, kept
behind ``MLFLOW_ALLOW_FILE_STORE``) and the SQLite store (MLflow's default). Nothing here imports
labbook, and ``import mlflow`` happens inside the tasks so that the ``import`` task, run first in a
fresh process, measures it alone.
"""

import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
perf = time.perf_counter


def emit(figure, value, **extra):
    print(json.dumps({"figure": figure, "value": value, **extra}), flush=True)


def quiet():
    """Silence MLflow's INFO lines (it configures its loggers on import, so import it first)."""
    import logging
    import warnings

    import mlflow  # noqa: F401

    warnings.filterwarnings("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)


def store_uri(kind, root):
    if kind == "sqlite":
        return f"sqlite:///{os.path.join(root, 'mlflow.db')}"
    return "file://" + os.path.join(root, "mlruns")


def client_for(kind, root):
    import mlflow
    from mlflow import MlflowClient

    uri = store_uri(kind, root)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.create_experiment("bench")
    return client, experiment


def task_import(spec, root):
    started = perf()
    import mlflow  # noqa: F401

    emit("mlflow.import_s", perf() - started)


def task_empty_run_cold(spec, root):
    """The first empty run in a new store, in a fresh process (as a short script would)."""
    import mlflow

    quiet()
    kind = spec.get("store", "sqlite")
    mlflow.set_tracking_uri(store_uri(kind, root))
    started = perf()
    mlflow.start_run()
    mlflow.end_run()
    emit(f"mlflow.empty_run_cold.{kind}_s", perf() - started)


def task_empty_run_warm(spec, root):
    import mlflow

    quiet()
    for kind in ("file", "sqlite"):
        sub = tempfile.mkdtemp(dir=root)
        mlflow.set_tracking_uri(store_uri(kind, sub))
        mlflow.start_run()
        mlflow.end_run()  # the store exists from here on
        times = []
        for _ in range(spec["empty_reps"]):
            started = perf()
            mlflow.start_run()
            mlflow.end_run()
            times.append(perf() - started)
        emit(f"mlflow.empty_run_warm.{kind}_s", statistics.median(times))


def task_log_metric(spec, root):
    """MlflowClient.log_metric, one synchronous call per point: durable when it returns."""
    quiet()
    for kind, calls in (("file", spec["calls"]), ("sqlite", spec["sqlite_calls"])):
        client, experiment = client_for(kind, tempfile.mkdtemp(dir=root))
        run_id = client.create_run(experiment).info.run_id
        log = client.log_metric
        started = perf()
        for step in range(calls):
            log(run_id, "loss", 0.5, step=step)
        elapsed = perf() - started
        emit(f"mlflow.log_metric.{kind}.call_us", elapsed / calls * 1e6, n=calls)


def task_log_metric_async(spec, root):
    """mlflow.log_metric(synchronous=False): queued for a background thread."""
    import mlflow

    quiet()
    calls = spec["calls"]
    client_for("file", tempfile.mkdtemp(dir=root))
    mlflow.start_run()
    log = mlflow.log_metric
    started = perf()
    for step in range(calls):
        log("loss", 0.5, step=step, synchronous=False)
    queued = perf()
    mlflow.flush_async_logging()
    done = perf()
    mlflow.end_run()
    emit("mlflow.log_metric_async.file.call_us", (queued - started) / calls * 1e6, n=calls)
    emit("mlflow.log_metric_async.file.durable_us", (done - started) / calls * 1e6, n=calls)


def task_log_batch(spec, root):
    """10 metrics per step through MlflowClient.log_batch (one call per step)."""
    from mlflow.entities import Metric

    quiet()
    metrics, steps = spec["metrics"], spec["steps"]
    names = [f"m{i}" for i in range(metrics)]
    client, experiment = client_for("file", tempfile.mkdtemp(dir=root))
    run_id = client.create_run(experiment).info.run_id
    batch = client.log_batch
    started = perf()
    for step in range(steps):
        now = int(time.time() * 1000)
        batch(run_id, metrics=[Metric(name, 0.5, now, step) for name in names])
    elapsed = perf() - started
    emit("mlflow.log_batch.file.point_us", elapsed / (metrics * steps) * 1e6, n=metrics * steps)
    emit("mlflow.log_batch.file.call_us", elapsed / steps * 1e6, n=steps)


def task_read(spec, root):
    """get_metric_history for one metric of ``points`` points, into a numpy array.

    Logging that many points through log_batch takes MLflow minutes, so the metric file is
    written directly, in the file store's own line format (``<ms> <value> <step>``); the read
    is MLflow's. The client pages through the history 25,000 points at a time and the file
    store parses the whole file for every page, so the time grows with the square of the
    points: bench_core asks for 100,000, not 1,000,000 (which would take minutes).
    """
    import numpy as np

    quiet()
    points = spec["points"]
    client, experiment = client_for("file", tempfile.mkdtemp(dir=root))
    run_id = client.create_run(experiment).info.run_id
    client.log_metric(run_id, "loss", 0.0, step=0, timestamp=1_700_000_000_000)
    path = os.path.join(root_of(client), experiment, run_id, "metrics", "loss")
    with open(path, "w") as handle:
        handle.writelines(f"{1_700_000_000_000 + i} {i * 0.5} {i}\n" for i in range(points))
    times = []
    for _ in range(spec["read_reps"]):
        started = perf()
        history = client.get_metric_history(run_id, "loss")
        values = np.fromiter((m.value for m in history), dtype=np.float64, count=len(history))
        steps = np.fromiter((m.step for m in history), dtype=np.int64, count=len(history))
        times.append(perf() - started)
        if len(values) != points or steps[-1] != points - 1:
            raise RuntimeError(f"read {len(values)} points, expected {points}")
        del history
    emit("mlflow.read.file_s", statistics.median(times), n=points)


def root_of(client):
    from urllib.parse import urlparse

    return urlparse(client.tracking_uri).path


def task_search(spec, root):
    """1,000 runs in the SQLite store (MLflow's indexed store): list, filter, order."""
    import mlflow
    from mlflow.entities import Metric, Param
    from peers import run_data  # bench/ is on sys.path: it holds this script

    quiet()
    runs = spec["runs"]
    client, experiment = client_for("sqlite", tempfile.mkdtemp(dir=root))
    now = int(time.time() * 1000)
    started = perf()
    for index in range(runs):
        params, steps = run_data(index)
        run_id = client.create_run(experiment).info.run_id
        metrics = [Metric(name, value, now, step) for step, loss, acc in steps
                   for name, value in (("loss", loss), ("accuracy", acc))]
        client.log_batch(run_id, metrics=metrics,
                         params=[Param(k, str(v)) for k, v in params.items()])
        client.set_terminated(run_id)
    emit("mlflow.search.setup_s", perf() - started, n=runs)
    # MLflow params are strings and its filters have no OR: over the logged values (peers.LRS),
    # lr < 0.01 is exactly the strings starting with '0.00'.
    where = "params.lr LIKE '0.00%' and metrics.loss < 0.5"
    queries = {
        "list": {},
        "filter": {"filter_string": where},
        "order": {"filter_string": where, "order_by": ["metrics.loss DESC"]},
    }
    for name, kwargs in queries.items():
        times, count = [], 0
        for _ in range(spec["search_reps"]):
            began = perf()
            frame = mlflow.search_runs(experiment_ids=[experiment], **kwargs)
            times.append(perf() - began)
            count = len(frame)
        emit(f"mlflow.search.{name}_s", statistics.median(times), n=count)


def task_create_runs(spec, root):
    """bench_fresh.py: ``runs`` empty runs after one untimed run (the store exists)."""
    import mlflow

    quiet()
    mlflow.set_tracking_uri(store_uri(spec.get("store", "sqlite"), root))
    mlflow.start_run()
    mlflow.end_run()
    runs = spec["runs"]
    started = perf()
    for _ in range(runs):
        mlflow.start_run()
        mlflow.end_run()
    emit("create_runs.ms_per_run", (perf() - started) / runs * 1e3, n=runs)


def task_first_run(spec, root):
    """bench_fresh.py: the first empty run in a new store (``import mlflow`` not timed)."""
    import mlflow

    quiet()
    mlflow.set_tracking_uri(store_uri(spec.get("store", "sqlite"), root))
    started = perf()
    mlflow.start_run()
    mlflow.end_run()
    emit("first_run.s", perf() - started)


def task_rest_log_metric(spec, root):
    """bench_sync.py: ``mlflow.log_metric`` against ``mlflow server`` at ``spec["host"]`` (its REST
    client: one HTTP request per call, durable on the server when it returns)."""
    import mlflow

    quiet()
    calls = spec["calls"]
    mlflow.set_tracking_uri(spec["host"])
    mlflow.set_experiment(spec.get("experiment", "bench-sync"))
    mlflow.start_run()
    log = mlflow.log_metric
    for step in range(50):  # warm up: the connection pool, the run's first rows
        log("warm", 1.0, step=step)
    started = perf()
    for step in range(calls):
        log("loss", 1.0 / (step + 1), step=step)
    emit("rest_log_metric.call_us", (perf() - started) / calls * 1e6, n=calls)
    mlflow.end_run()


def task_batch_client(spec, root):
    """bench_sync.py's throughput: one of many concurrent clients. Creates a run on ``spec["host"]``,
    prints its id, waits for the file ``spec["go"]``, then sends ``spec["points"]`` points of one
    metric through ``MlflowClient.log_batch`` (at most 1,000 metrics a request, MLflow's limit)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    quiet()
    client = MlflowClient(spec["host"])
    run_id = client.create_run(spec["experiment_id"]).info.run_id
    print(json.dumps({"run": run_id}), flush=True)
    while not os.path.exists(spec["go"]):
        time.sleep(0.005)
    points, batch = spec["points"], 1000
    now = int(time.time() * 1000)
    for at in range(0, points, batch):
        client.log_batch(run_id, metrics=[Metric("loss", 1.0 / (step + 1), now, step)
                                          for step in range(at, min(points, at + batch))])
    print(json.dumps({"logged": time.time()}), flush=True)
    client.set_terminated(run_id)


TASKS = {
    "rest_log_metric": task_rest_log_metric,
    "batch_client": task_batch_client,
    "create_runs": task_create_runs,
    "first_run": task_first_run,
    "import": task_import,
    "empty_run_cold": task_empty_run_cold,
    "empty_run_warm": task_empty_run_warm,
    "log_metric": task_log_metric,
    "log_metric_async": task_log_metric_async,
    "log_batch": task_log_batch,
    "read": task_read,
    "search": task_search,
}


def main():
    spec = json.loads(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="labbook-bench-mlflow-") as root:
        for name in spec.get("tasks") or [spec["task"]]:
            try:
                TASKS[name](spec, root)
            except Exception as error:  # report and go on: one failing task spoils no other figure
                print(json.dumps({"error": name, "message": f"{type(error).__name__}: {error}"}),
                      flush=True)


if __name__ == "__main__":
    main()
