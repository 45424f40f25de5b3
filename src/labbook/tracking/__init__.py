"""The tracking API: Polyaxon's module-level functions over one active ``Run``.

::

    from labbook import tracking

    tracking.init(project="mnist", name="baseline")
    tracking.log_inputs(lr=0.01)
    tracking.log_metrics(step=1, loss=0.5, accuracy=0.81)
    tracking.end()

Every function below except ``init``, ``get_or_create_run``, ``end``, ``get_run`` and
``Experiment`` is derived from the ``Run`` method of the same name (same signature, same
docstring) in ``_forwarder``: the signature is written once, on ``Run``. ``TRACKING_RUN`` is
Polyaxon's name for the active run, read through ``__getattr__`` so it is always current.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, ParamSpec

from labbook.errors import ConfigError, NoActiveRunError
from labbook.tracking.run import NoOpRun as NoOpRun  # public: in __all__
from labbook.tracking.run import Run, _active

P = ParamSpec("P")

# Run methods exposed as module functions: Polyaxon's tracking surface plus labbook's additions.
FORWARDED = (
    "flush",
    "get_artifacts_path",
    "get_inputs",
    "get_log_level",
    "get_outputs",
    "get_outputs_path",
    "get_tensorboard_path",
    "log_altair_chart",
    "log_artifact",
    "log_artifact_lineage",
    "log_artifact_ref",
    "log_audio",
    "log_bokeh_chart",
    "log_code_ref",
    "log_confusion_matrix",
    "log_curve",
    "log_data_ref",
    "log_dataframe",
    "log_dataset",
    "log_dir_ref",
    "log_env",
    "log_failed",
    "log_feature_set",
    "log_feature_vector",
    "log_file_ref",
    "log_histogram",
    "log_html",
    "log_image",
    "log_image_with_boxes",
    "log_inputs",
    "log_meta",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_model_ref",
    "log_mpl_image",
    "log_mpl_plotly_chart",
    "log_np_histogram",
    "log_outputs",
    "log_plot",
    "log_plotly_chart",
    "log_pr_curve",
    "log_progress",
    "log_roc_auc_curve",
    "log_sklearn_pr_curve",
    "log_sklearn_roc_auc_curve",
    "log_status",
    "log_stopped",
    "log_succeeded",
    "log_tags",
    "log_tensorboard_ref",
    "log_text",
    "log_trace",
    "log_video",
    "promote_to_artifact_version",
    "promote_to_model_version",
    "pull_remote_run",
    "push_offline_run",
    "set_artifacts_path",
    "set_description",
    "set_name",
    "set_readme",
    "set_run_event_logger",
    "set_run_process_sidecar",
    "set_run_resource_logger",
    "sync_events_summaries",
    "sync_system_events_summaries",
    "update",
    "use_artifact",
)


# Methods whose module function hands its ``**keyword`` dict to a method taking it as a dict,
# so a call packs its keyword arguments once, not again to pass them on. Such a function takes
# ``*args, **keywords`` and pops its named parameters (each has a default) from the dict: a
# function with named parameters compares each keyword of a call with each of their names
# (``log_metrics(step=s, **ten_metrics)``: 20 string comparisons, ~5% of the call).
_AS_DICT = {"log_metrics": "_log_metrics"}


def _forwarder(name: str) -> Callable[..., Any]:
    """A module function with exactly ``Run.<name>``'s signature (minus ``self``) that calls
    the active run's method. Generated from the signature so no call pays for ``*args`` (but
    the ``_AS_DICT`` ones, whose ``*args`` is empty in the calls they are made for)."""
    method = getattr(Run, name)
    signature = inspect.signature(method)
    params = list(signature.parameters.values())[1:]
    defaults = {f"_d_{p.name}": p.default for p in params if p.default is not p.empty}
    declared, passed, keyword_only_started = [], [], False
    for p in params:
        default = f"=_d_{p.name}" if p.default is not p.empty else ""
        if p.kind is p.VAR_POSITIONAL:
            declared.append(f"*{p.name}")
            passed.append(f"*{p.name}")
            keyword_only_started = True
        elif p.kind is p.VAR_KEYWORD:
            declared.append(f"**{p.name}")
            passed.append(f"**{p.name}")
        elif p.kind is p.KEYWORD_ONLY:
            if not keyword_only_started:
                declared.append("*")
                keyword_only_started = True
            declared.append(f"{p.name}{default}")
            passed.append(f"{p.name}={p.name}")
        else:
            declared.append(f"{p.name}{default}")
            passed.append(p.name if p.kind is p.POSITIONAL_ONLY else f"{p.name}={p.name}")
    call = f"    return run.{name}({', '.join(passed)})\n"
    if name in _AS_DICT:  # positional arguments (rare) go to the method's own signature
        keywords = next(p.name for p in params if p.kind is p.VAR_KEYWORD)
        named = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
        declared = ["*_args", f"**{keywords}"]
        popped = [f"{keywords}.pop({n!r}, _d_{n})" for n in named]
        call = (f"    if _args:\n"
                f"        return run.{name}(*_args, **{keywords})\n"
                f"    return run.{_AS_DICT[name]}({', '.join([*popped, keywords])})\n")
    source = (
        f"def {name}({', '.join(declared)}):\n"
        f"    try:\n"
        f"        run = _active[0]\n"
        f"    except IndexError:\n"
        f"        raise NoActiveRunError({name!r}) from None\n"
        + call
    )
    namespace: dict[str, Any] = {"_active": _active, "NoActiveRunError": NoActiveRunError, **defaults}
    exec(source, namespace)  # noqa: S102 - the source is built from our own signatures only
    function = functools.update_wrapper(namespace[name], method)
    del function.__wrapped__
    function.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    function.__module__ = __name__
    return function


def _starts_the_active_run(new_run: Callable[P, Run]) -> Callable[P, Run]:
    """``init`` from ``Run``: the same parameters (written once, on ``Run.__init__``), and it makes
    the run it starts the process's active run."""

    def init(*args: P.args, **kwargs: P.kwargs) -> Run:
        """Start (or, with ``run_uuid``, resume) the process's active run and return it.

        The arguments are ``Run``'s. A run still active from an earlier ``init()`` is ended first
        (``succeeded``), so calling ``init()`` again in a notebook starts a fresh run cleanly.
        ``sync_tensorboard=True`` logs what a ``SummaryWriter`` writes under
        ``get_tensorboard_path()`` while the run runs.
        """
        if _active:
            _active[0].end()
        run = new_run(*args, **kwargs)
        _active[:] = [run]  # a NoOpRun too, so module calls stay cheap no-ops
        return run

    parameters = list(inspect.signature(Run.__init__).parameters.values())[1:]
    init.__signature__ = inspect.Signature(parameters, return_annotation="Run")  # type: ignore[attr-defined]
    init.__module__ = __name__
    return init


init = _starts_the_active_run(Run)


def get_or_create_run(tracking_run: Run | None = None) -> Run:
    """``tracking_run`` if given, else the active run, else a new one from ``init()``."""
    if tracking_run is not None:
        return tracking_run
    if _active:
        return _active[0]
    return init()


def end() -> None:
    """End the active run (``succeeded`` unless already final). Does nothing without one."""
    if _active:
        _active[0].end()
        _active.clear()


def get_run() -> Run | None:
    """The active run, or None (also readable as ``tracking.TRACKING_RUN``, Polyaxon's name)."""
    return _active[0] if _active else None


def Experiment(  # noqa: N802 - the old Polyaxon client's class name, kept so its scripts run
    project: str | None = None,
    experiment_id: str | None = None,
    group_id: Any = None,
    client: Any = None,
    track_logs: bool = True,
    track_code: bool = True,
    track_env: bool = True,
    outputs_store: Any = None,
) -> Run:
    """The pre-1.0 Polyaxon client's ``Experiment()``: starts the active run, as ``init`` does.

    ``experiment = Experiment(); experiment.log_metrics(step=1000, loss=0.01, accuracy=0.97)``
    runs with only the import changed (``from labbook.tracking import Experiment``). The object
    is a ``Run`` (its no-op kind under ``LABBOOK_NO_OP``/``POLYAXON_NO_OP``); ``experiment_id``
    resumes the run with that uuid. ``group_id`` and ``outputs_store`` named server-side objects
    that labbook does not have; passing one raises.
    """
    for argument, value in (("group_id", group_id), ("outputs_store", outputs_store)):
        if value is not None:
            raise ConfigError(
                f"Experiment({argument}={value!r}): labbook has no {argument}. Drop it; group "
                "runs with tags (Experiment(...).log_tags(['group-1'])) and set the store with LABBOOK_HOME."
            )
    return init(project=project, run_uuid=experiment_id, client=client, track_code=track_code,
                track_env=track_env, track_logs=track_logs)


for _name in FORWARDED:
    globals()[_name] = _forwarder(_name)
del _name


def __getattr__(name: str) -> Any:
    if name == "TRACKING_RUN":  # Polyaxon's global; read here so it is always the current run
        return get_run()
    if name in ("V1ArtifactKind", "ArtifactKind"):
        from labbook.store.kinds import ArtifactKind

        return ArtifactKind
    if name in ("Span", "V1EventSpan"):
        from labbook.media.traces import Span

        return Span
    if name in ("V1RunArtifact", "RunArtifact"):
        from labbook.artifacts.lineage import RunArtifact

        return RunArtifact
    raise AttributeError(f"module 'labbook.tracking' has no attribute {name!r}")


__all__ = sorted(
    ["ArtifactKind", "Experiment", "NoOpRun", "Run", "RunArtifact", "Span", "V1ArtifactKind", "V1EventSpan",
     "V1RunArtifact", "end",
     "get_or_create_run", "get_run", "init", *FORWARDED]
)
