"""`labbook import mlflow`: a store written by MLflow itself (mlflow-skinny, the `mlflow` extra),
read back through MLflow's client and compared value by value; importing twice adds nothing.
Also: the optional extras stay unloaded by `import labbook` and `from labbook import tracking`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

import labbook
from labbook.cli.main import cli
from tests.conftest import PYTHON, python_env, require

T0 = 1_763_000_000_000  # ms
STATUSES = ("FINISHED", "FINISHED", "FAILED", "KILLED")


def mlflow_client(uri: str):
    try:
        import mlflow  # noqa: F401
    except ImportError:
        require(False, "mlflow-skinny is not installed")
    import os

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient

    return MlflowClient(uri)


def write_store(uri: str, folder: Path, experiments: int, runs: int, long_runs: int) -> list[str]:
    """``runs`` finished runs over ``experiments`` experiments (plus one still RUNNING), each with
    nested params, tags, a ``loss`` of 300 steps (10,000 for the first ``long_runs``), an
    ``accuracy``, files and a model folder. Returns the finished runs' ids."""
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow_client(uri)
    ids = [client.create_experiment(f"vision exp {e}", artifact_location=(folder / f"artifacts-{e}").as_uri())
           for e in range(experiments)]
    rng = np.random.default_rng(0)
    files = folder / "files"
    (files / "plots").mkdir(parents=True)
    (files / "plots" / "roc.csv").write_text("fpr,tpr\n0,0\n1,1\n")
    (files / "plots" / "notes.md").write_text("# notes\n")
    (files / "summary.json").write_text('{"best": 0.93}')
    model = files / "model"
    model.mkdir()
    (model / "MLmodel").write_text(
        "artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
        "  sklearn:\n    pickled_model: model.pkl\n    sklearn_version: 1.5.0\n")
    finished = []
    for index in range(runs + 1):
        run = client.create_run(ids[index % experiments], start_time=T0 + index * 60_000,
                                run_name=f"run-{index}", tags={"team": "vision", "seed": str(index)})
        run_id = run.info.run_id
        params = [Param("optimizer.lr", str(0.01 * (index + 1))), Param("model/layers", str(index % 4 + 1)),
                  Param("schedule.warmup.kind", "linear"), Param("note", "1e-3 or so")]
        client.log_batch(run_id, params=params, tags=[RunTag("mlflow.note.content", f"Run **{index}**"),
                                                      RunTag("empty", "")])
        steps = 10_000 if index < long_runs else 300  # MLflow writes about 1,000 points a second
        values = rng.random(steps)
        for start in range(0, steps, 1000):
            client.log_batch(run_id, metrics=[
                Metric("loss", float(values[s]), T0 + index * 60_000 + s * 3, s)
                for s in range(start, min(start + 1000, steps))])
        client.log_batch(run_id, metrics=[Metric("eval/accuracy", 0.5 + s / 100, T0 + s, s * 10)
                                          for s in range(50)])
        client.log_artifacts(run_id, str(files / "plots"), "plots")
        client.log_artifact(run_id, str(files / "summary.json"))
        (model / "model.pkl").write_bytes(bytes([index]) * 1024)  # each run's own model
        client.log_artifacts(run_id, str(model), "model")
        if index == 0:  # an MLflow 3 logged model, kept outside the run's artifacts
            logged = client.create_logged_model(ids[0], name="classifier", source_run_id=run_id,
                                                params={"C": "0.5"})
            client.log_model_artifacts(logged.model_id, str(model))
            client.finalize_logged_model(logged.model_id, "READY")
        if index == runs:
            break  # the last one stays RUNNING
        client.set_terminated(run_id, status=STATUSES[index % 4], end_time=T0 + index * 60_000 + 45_000)
        finished.append(run_id)
    return finished


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return uri, write_store(uri, folder, experiments=3, runs=20, long_runs=1)


def imported(run_id: str):
    rows = labbook.search_runs(filter=f"meta.imported_from.run_id = '{run_id}'", limit=None)
    assert len(rows) == 1, f"MLflow run {run_id} imported {len(rows)} times"
    return rows[0].load()


def assert_same_as_mlflow(client, run_id: str) -> None:
    source = client.get_run(run_id)
    record = imported(run_id)
    info = source.info
    assert record.name == info.run_name
    assert {k: str(v) for k, v in record.inputs.items()} == source.data.params
    assert record.inputs["optimizer.lr"] == float(source.data.params["optimizer.lr"])
    assert record.inputs["note"] == "1e-3 or so"
    assert record.meta["mlflow_tags"] == source.data.tags
    assert record.meta["imported_from"]["run_id"] == run_id
    assert set(record.tags) == {"team:vision", f"seed:{source.data.tags['seed']}", "empty"}
    assert record.readme == source.data.tags["mlflow.note.content"]
    assert record.status == {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "stopped"}[info.status]
    assert round(record.started_at.timestamp() * 1000) == info.start_time
    assert round(record.finished_at.timestamp() * 1000) == info.end_time
    assert sorted(record.metric_names()) == sorted(source.data.metrics)
    for key in source.data.metrics:
        history = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
        series = record.metric(key)
        assert series.steps.tolist() == [m.step for m in history]
        assert series.values.tolist() == [m.value for m in history]
        assert (series.timestamps.astype("int64") // 1000).tolist() == [m.timestamp for m in history]
    outputs = record.path / "outputs"
    for artifact in ("plots/roc.csv", "plots/notes.md", "summary.json"):
        local = client.download_artifacts(run_id, artifact)
        assert (outputs / artifact).read_bytes() == Path(local).read_bytes()
    index = int(info.run_name.split("-")[1])
    models = {m.key: m for m in labbook.list_artifacts(kind="model", producer=record.uuid)}
    assert sorted(models) == (["classifier", "model"] if index == 0 else ["model"])
    for model in models.values():
        assert model.labels["framework"] == "sklearn"
        assert Path(model.local_path(), "model.pkl").read_bytes() == bytes([index]) * 1024
    if index == 0:
        assert models["classifier"].meta["params"] == {"C": "0.5"}


def test_import_mlflow_carries_every_value_and_step(mlflow_store):
    uri, run_ids = mlflow_store
    result = CliRunner().invoke(cli, ["import", "mlflow", "--tracking-uri", uri], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"Imported 20 run(s) from mlflow ({uri}); 0 imported before, 1 skipped" in result.output
    assert "still RUNNING in MLflow" in result.output
    projects = {r.project for r in labbook.search_runs(limit=None)}
    assert projects == {"vision-exp-0", "vision-exp-1", "vision-exp-2"}
    client = mlflow_client(uri)
    points = 0
    for run_id in run_ids:
        assert_same_as_mlflow(client, run_id)
        points += len(imported(run_id).metric("loss"))
    assert points == 10_000 + 19 * 300

    again = CliRunner().invoke(cli, ["import", "mlflow", "--tracking-uri", uri], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "Imported 0 run(s) from mlflow" in again.output and "20 imported before" in again.output
    assert len(labbook.search_runs(limit=None)) == 20


def test_import_one_experiment_into_one_project(mlflow_store):
    from labbook.importers.mlflow import import_mlflow

    uri, _ = mlflow_store
    report = import_mlflow(uri, experiments=["vision exp 1"], project="chosen")
    assert len(report.created) == 7  # runs 1, 4, ..., 19 (run 20 is still running, in exp 2)
    rows = labbook.search_runs(limit=None)
    assert {r.project for r in rows} == {"chosen"} and len(rows) == 7
    assert {r.load().meta["imported_from"]["experiment"] for r in rows} == {"vision exp 1"}


def test_unknown_experiment_names_the_known_ones(mlflow_store):
    uri, _ = mlflow_store
    result = CliRunner().invoke(cli, ["import", "mlflow", "--tracking-uri", uri, "--experiment", "nope"])
    assert result.exit_code == 1
    assert "No MLflow experiment 'nope'" in result.output and "'vision exp 0'" in result.output


def test_import_from_a_file_store(tmp_path):
    from labbook.importers.mlflow import import_mlflow

    uri = (tmp_path / "mlruns").as_uri()
    run_ids = write_store(uri, tmp_path, experiments=1, runs=2, long_runs=0)
    report = import_mlflow(uri)
    assert sorted(report.created) == sorted(run_ids)
    client = mlflow_client(uri)
    for run_id in run_ids:
        assert_same_as_mlflow(client, run_id)
    assert import_mlflow(uri).created == {}


def test_optional_extras_are_not_imported(home):
    """`import labbook`, `from labbook import tracking` (a Run included), the importer and
    integration packages and the CLI's command table load none of the extras' libraries."""
    steps = ["import labbook", "from labbook import tracking; tracking.Run",
             "import labbook.importers, labbook.integrations", "import labbook.cli.main"]
    code = "import sys, json\n" + "".join(
        f"{step}\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in EXTRAS)))\n"
        for step in steps)
    code = "EXTRAS = {'tensorboard', 'tensorboardX', 'mlflow', 'wandb', 'torch'}\n" + code
    out = subprocess.run([PYTHON, "-c", code], env=python_env(home), capture_output=True, text=True,
                         check=True, timeout=60).stdout
    loaded = [orjson.loads(line) for line in out.splitlines()]
    assert loaded == [[]] * len(steps)


def test_search_by_a_value_inside_meta(run_factory):
    first = run_factory(name="a")
    first.log_meta(imported_from={"source": "mlflow", "run_id": "it's-1"}, epochs=3)
    second = run_factory(name="b")
    second.log_meta(imported_from={"source": "tensorboard", "run_id": "/tmp/x"})
    first.end(), second.end()
    from labbook.importers.common import find_imported, quote

    def names(text):
        return sorted(r.name for r in labbook.search_runs(filter=text))

    assert names("meta.imported_from.source = 'mlflow'") == ["a"]
    assert names("meta.imported_from.run_id = " + quote("it's-1")) == ["a"]
    assert names("meta.epochs >= 3") == ["a"] and names("meta.epochs is null") == ["b"]
    assert find_imported("tensorboard", "/tmp/x") == second.uuid and find_imported("mlflow", "/tmp/x") is None


def test_bench_import_smoke(home):
    """bench/bench_import.py --smoke runs end to end: every reader counts every point."""
    bench = Path(__file__).resolve().parents[1] / "bench" / "bench_import.py"
    out = subprocess.run([PYTHON, str(bench), "--smoke"], env=python_env(home), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {line[:48].strip(): line[48:].split() for line in out.stdout.splitlines()[2:]}
    assert sorted(rows) == sorted(["mlflow: MlflowClient.get_metric_history", "labbook import mlflow",
                                   "tensorboard: EventMultiplexer.Reload + Scalars",
                                   "labbook import tensorboard"])
    assert {fields[1] for fields in rows.values()} == {"400"}  # 2 runs x 200 points, each reader
