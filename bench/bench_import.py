"""Importers: how fast ``labbook import`` carries metric points over, beside the source's own reader.

Run it with ``.venv/bin/python bench/bench_import.py`` (about a minute; ``--quick`` smaller;
``--smoke`` tiny, seconds). Needs the ``mlflow`` and ``tensorboard`` extras in labbook's
environment (the importers read through them); a source whose library is missing is skipped.

Workloads, written once into a temporary folder:

1. An MLflow SQLite store (MLflow's default) with ``runs`` runs, each with one metric of
   ``steps`` points, written with ``MlflowClient.log_batch``.
2. A TensorBoard log folder with ``runs`` run folders, each with one scalar of ``steps`` points,
   written with TensorBoard's own ``EventFileWriter``.

Figures, each measured in a fresh process (imports included, as a user's command pays them):

* ``mlflow: MlflowClient.get_metric_history`` — MLflow's own reader, every point of every run;
* ``labbook import mlflow`` — ``import_mlflow`` into a new home: read the same points through
  MLflow's client and write them as labbook runs (params, tags, artifacts included);
* ``tensorboard: EventAccumulator.Reload + Scalars`` — TensorBoard's own reader, every point;
* ``labbook import tensorboard`` — ``import_tensorboard`` into a new home.

Each line gives the seconds and the points per second (all runs' points / seconds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import chosen_size  # bench/ is on sys.path when this runs as a script

perf = time.perf_counter
SIZES = {
    "full": {"runs": 10, "steps": 10_000},
    "quick": {"runs": 5, "steps": 10_000},
    "smoke": {"runs": 2, "steps": 200},
}


# -- writing the sources (in this process, before any figure) -------------------------------

def write_mlflow(folder: Path, runs: int, steps: int) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("bench", artifact_location=(folder / "artifacts").as_uri())
    for _index in range(runs):
        run_id = client.create_run(experiment, start_time=1_763_000_000_000).info.run_id
        client.log_batch(run_id, params=[Param("lr", "0.01"), Param("model.layers", "4")])
        for start in range(0, steps, 1000):
            client.log_batch(run_id, metrics=[Metric("loss", 1 / (s + 1), 1_763_000_000_000 + s, s)
                                              for s in range(start, min(start + 1000, steps))])
        client.set_terminated(run_id, "FINISHED")
    return uri


def write_tensorboard(folder: Path, runs: int, steps: int) -> str:
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    for index in range(runs):
        writer = EventFileWriter(str(folder / f"run-{index}"))
        for step in range(steps):
            summary = Summary(value=[Summary.Value(tag="loss", simple_value=1 / (step + 1))])
            writer.add_event(Event(wall_time=1_763_000_000 + step * 0.1, step=step, summary=summary))
        writer.close()
    return str(folder)


# -- the figures (each in its own process) ---------------------------------------------------

def task_mlflow_read(source: str, home: str) -> int:
    from mlflow import MlflowClient

    client = MlflowClient(source)
    points = 0
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id], max_results=1000):
            for key in run.data.metrics:
                points += len(client.get_metric_history(run.info.run_id, key))
    return points


def task_labbook_mlflow(source: str, home: str) -> int:
    from labbook.importers.mlflow import import_mlflow

    report = import_mlflow(source, home=home)
    return _points(report, home)


def task_tensorboard_read(source: str, home: str) -> int:
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    multiplexer = EventMultiplexer(size_guidance={"scalars": 0})
    multiplexer.AddRunsFromDirectory(source)
    multiplexer.Reload()
    points = 0
    for run, tags in multiplexer.Runs().items():
        for tag in tags["scalars"]:
            points += len(multiplexer.Scalars(run, tag))
    return points


def task_labbook_tensorboard(source: str, home: str) -> int:
    from labbook.importers.tensorboard import import_tensorboard

    report = import_tensorboard(source, home=home)
    return _points(report, home)


def _points(report, home: str) -> int:
    import labbook

    return sum(len(labbook.get_run(uuid, home=home).metric("loss")) for uuid in report.created.values())


TASKS = {
    "mlflow: MlflowClient.get_metric_history": task_mlflow_read,
    "labbook import mlflow": task_labbook_mlflow,
    "tensorboard: EventMultiplexer.Reload + Scalars": task_tensorboard_read,
    "labbook import tensorboard": task_labbook_tensorboard,
}


def worker(task: str, source: str, home: str) -> None:
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    started = perf()
    points = TASKS[task](source, home)
    print(json.dumps({"task": task, "seconds": perf() - started, "points": points}), flush=True)


def measure(task: str, source: str, home: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", task, source, str(home)],
                         capture_output=True, text=True, timeout=1800)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"task": task, "error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:5])
        return 0
    size = chosen_size(__doc__.splitlines()[0], SIZES)
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    print(f"labbook import benchmark, python {sys.version.split()[0]}, {os.cpu_count()} CPUs: "
          f"{size['runs']} runs x {size['steps']} points per source, each figure in a fresh process")
    rows, failed = [], False
    with tempfile.TemporaryDirectory(prefix="labbook-bench-import-") as tmp:
        root = Path(tmp)
        sources = {}
        for name, write in (("mlflow", write_mlflow), ("tensorboard", write_tensorboard)):
            folder = root / name
            folder.mkdir()
            try:
                sources[name] = write(folder, size["runs"], size["steps"])
            except ImportError as error:
                print(f"  {name}: skipped ({error})")
        for task in TASKS:
            source_name = "mlflow" if "mlflow" in task else "tensorboard"
            if source_name not in sources:
                continue
            result = measure(task, sources[source_name], root / f"home-{len(rows)}")
            rows.append(result)
            failed = failed or "error" in result
    print(f"{'reader':48} {'seconds':>8} {'points':>9} {'points/s':>11}")
    for row in rows:
        if "error" in row:
            print(f"{row['task']:48} failed: {row['error']}")
            continue
        print(f"{row['task']:48} {row['seconds']:8.2f} {row['points']:9d} {row['points'] / row['seconds']:11,.0f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
