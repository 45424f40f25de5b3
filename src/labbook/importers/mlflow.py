"""Import MLflow runs: ``labbook import mlflow`` or ``import_mlflow(tracking_uri)``.

::

    from labbook.importers.mlflow import import_mlflow

    report = import_mlflow("sqlite:///mlflow.db", experiments=["churn"])
    print(report.created)            # {mlflow run id: labbook uuid}

The store is read through MLflow's own client (``MlflowClient(tracking_uri)``, the ``mlflow``
extra: ``mlflow-skinny``), so any tracking URI it accepts works: a database, a ``file://`` store,
a tracking server. For each run that has finished (RUNNING and SCHEDULED runs are left for a
later import; deleted runs are not listed):

* params → inputs, under their own names (``optimizer.lr`` stays ``optimizer.lr``); MLflow keeps
  every param as text, so text that reads back exactly as a number (``"0.01"``, ``"64"``)
  becomes that number and anything else stays text: ``str(value)`` is always MLflow's text;
* metrics → metrics, every point with its step and timestamp (milliseconds, kept exactly);
* tags → ``meta.mlflow_tags`` (all of them, verbatim); user tags (not ``mlflow.*``) also
  become labbook tags ``key:value`` (``key`` when the value is empty); ``mlflow.runName`` is
  the name, ``mlflow.note.content`` the readme;
* status (FINISHED → succeeded, FAILED → failed, KILLED → stopped) and start and end times;
* artifacts → files under ``outputs/`` (each top-level file or folder one artifact); a folder
  with an ``MLmodel`` file, and MLflow 3's logged models, become model artifacts with their
  flavor as ``framework``.

Not carried over (listed per run in the report): dataset inputs (``mlflow.log_input``), traces,
model registry entries and evaluation results.
"""

from __future__ import annotations

import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from labbook.importers.common import ImportReport, Progress, SourceRun, import_runs, project_name
from labbook.media.optional import need

SOURCE = "mlflow"
STATUSES = {"FINISHED": "succeeded", "FAILED": "failed", "KILLED": "stopped"}
PAGE = 1000


def client_for(tracking_uri: str | None) -> tuple[Any, str]:
    """MLflow's client for ``tracking_uri`` (default: MLflow's own, from MLFLOW_TRACKING_URI)."""
    need("mlflow", "Importing MLflow runs")
    import mlflow
    from mlflow import MlflowClient

    uri = tracking_uri or mlflow.get_tracking_uri()
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # reading an existing file store
    return MlflowClient(tracking_uri=uri), uri


def source_runs(client: Any, experiments: Iterable[str] | None = None) -> list[SourceRun]:
    """Every active run of the named experiments (default: all), as ``SourceRun``s."""
    from labbook.errors import NotFoundError

    found = {e.name: e for e in _all(client.search_experiments, max_results=PAGE)}
    wanted = list(experiments or [])
    missing = [name for name in wanted if name not in found]
    if missing:
        raise NotFoundError(
            f"No MLflow experiment {', '.join(repr(m) for m in missing)} at {client.tracking_uri}. "
            f"Its experiments: {', '.join(repr(n) for n in sorted(found)) or 'none'}."
        )
    chosen = [found[name] for name in wanted] if wanted else list(found.values())
    runs = []
    for experiment in chosen:
        for mlflow_run in _all(client.search_runs, experiment_ids=[experiment.experiment_id],
                               max_results=PAGE, order_by=["attributes.start_time ASC"]):
            runs.append(_source_run(client, experiment, mlflow_run))
    return runs


def import_mlflow(tracking_uri: str | None = None, experiments: Iterable[str] | None = None,
                  project: str | None = None, *, home: str | os.PathLike[str] | None = None,
                  progress: Progress | None = None) -> ImportReport:
    """Import MLflow runs (see the module docstring); each experiment goes to a project of its
    name unless ``project`` is given. Runs imported before are skipped."""
    client, uri = client_for(tracking_uri)
    return import_runs(SOURCE, uri, source_runs(client, experiments), project, home=home, progress=progress)


def _all(method: Any, **kwargs: Any) -> Iterable[Any]:
    """Every item of a paged MLflow search."""
    token = None
    while True:
        page = method(page_token=token, **kwargs)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _time(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _source_run(client: Any, experiment: Any, mlflow_run: Any) -> SourceRun:
    info, data = mlflow_run.info, mlflow_run.data
    tags = dict(data.tags)
    status = STATUSES.get(info.status)
    label = f"{experiment.name}/{info.run_id}"
    user_tags = [f"{k}:{v}" if v else k for k, v in sorted(tags.items()) if not k.startswith("mlflow.")]

    def write(run: Any, notes: list[str]) -> None:
        _write(client, experiment, mlflow_run, run, notes)

    return SourceRun(
        run_id=info.run_id, label=label, write=write, project=project_name(experiment.name),
        name=info.run_name or tags.get("mlflow.runName"), tags=user_tags,
        started_at=_time(info.start_time), finished_at=_time(info.end_time), status=status or "unknown",
        extra={"experiment": experiment.name, "experiment_id": experiment.experiment_id},
        skip_reason=None if status else (
            f"still {info.status} in MLflow; import again once it has finished"),
    )


def _param(text: str) -> Any:
    """MLflow's param text as a number when it reads back exactly as that number."""
    try:
        number = int(text)
        if str(number) == text:
            return number
    except ValueError:
        pass
    try:
        number = float(text)
        if repr(number) == text and math.isfinite(number):
            return number
    except ValueError:
        pass
    return text


def _write(client: Any, experiment: Any, mlflow_run: Any, run: Any, notes: list[str]) -> None:
    info, data = mlflow_run.info, mlflow_run.data
    tags = dict(data.tags)
    if data.params:
        run.log_inputs(**{key: _param(value) for key, value in data.params.items()})
    if tags:
        run.log_meta(mlflow_tags=tags)
    if tags.get("mlflow.note.content"):
        run.set_readme(tags["mlflow.note.content"])
    for key in sorted(data.metrics):
        for point in client.get_metric_history(info.run_id, key):
            run.log_metric(key, point.value, step=point.step, timestamp=point.timestamp / 1000)
    inputs = getattr(mlflow_run, "inputs", None)
    datasets = getattr(inputs, "dataset_inputs", None) or []
    if datasets:
        notes.append(f"dataset inputs ({len(datasets)})")
    with tempfile.TemporaryDirectory(prefix="labbook-mlflow-") as tmp:
        _artifacts(client, info.run_id, Path(tmp), run, notes)
        _logged_models(client, experiment, info.run_id, Path(tmp), run, notes)


def _artifacts(client: Any, run_id: str, tmp: Path, run: Any, notes: list[str]) -> None:
    for entry in client.list_artifacts(run_id):
        local = Path(client.download_artifacts(run_id, entry.path, str(tmp / "artifacts")))
        name = Path(entry.path).name
        if local.is_dir() and (local / "MLmodel").is_file():
            run.log_model(str(local), name=name, framework=_flavor(local))
        else:
            run.log_artifact(str(local), name=name)


def _logged_models(client: Any, experiment: Any, run_id: str, tmp: Path, run: Any, notes: list[str]) -> None:
    """MLflow 3 keeps models outside the run's artifacts, as LoggedModels that name their run."""
    search = getattr(client, "search_logged_models", None)
    if search is None:
        return
    from mlflow.artifacts import download_artifacts

    models = _all(search, experiment_ids=[experiment.experiment_id], filter_string=f"source_run_id = '{run_id}'")
    for index, model in enumerate(models):
        try:
            local = Path(download_artifacts(artifact_uri=model.artifact_location,
                                            dst_path=str(tmp / f"model-{index}"),
                                            tracking_uri=client.tracking_uri))
        except Exception as error:  # noqa: BLE001 - reported, the rest of the run goes on
            notes.append(f"logged model {model.name!r} ({type(error).__name__})")
            continue
        run.log_model(str(local), name=model.name, framework=_flavor(local),
                      params=dict(model.params or {}) or None)


def _flavor(folder: Path) -> str | None:
    """The model's main flavor, from its MLmodel file."""
    from mlflow.models import Model

    try:
        flavors = list(Model.load(str(folder / "MLmodel")).flavors)
    except Exception:  # noqa: BLE001 - an unreadable MLmodel still leaves a model folder
        return None
    specific = [f for f in flavors if f != "python_function"]
    return (specific or flavors or [None])[0]
