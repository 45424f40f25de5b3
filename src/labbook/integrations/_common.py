"""What every framework integration shares: finding the run, turning framework values into
numbers and params into JSON, logging a saved model as a versioned artifact, the
feature-importance chart and the best point of a series. Public ``Run`` API only."""

from __future__ import annotations

import inspect
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from labbook._values import json_value
from labbook.media.optional import need


def init_arguments(**given: Any) -> dict[str, Any]:
    """The ``tracking.init`` arguments in ``given`` that differ from ``init``'s defaults.

    Integrations that accept Polyaxon's ``init`` arguments (Lightning's and ignite's loggers) pass
    them all; only the ones a user actually set should start a new run.
    """
    from labbook import tracking

    defaults = {name: p.default for name, p in inspect.signature(tracking.init).parameters.items()
                if p.default is not p.empty}
    return {k: v for k, v in given.items() if k not in defaults or v != defaults[k]}


def resolve_run(run: Any = None, init: dict[str, Any] | None = None) -> Any:
    """The run an integration logs to.

    ``run`` if given; else, when ``init`` holds ``tracking.init`` arguments, a run started with them
    (it becomes the active run); else the active run (``tracking.init()`` earlier in the script);
    else a new run started with ``tracking.init()``.
    """
    from labbook import tracking

    if run is not None:
        return run
    if init:
        return tracking.init(**init)
    return tracking.get_or_create_run()


def scalar(value: Any) -> float | int | None:
    """``value`` as a Python number when it is one (numpy, torch and Keras scalars included),
    else None. Booleans are numbers here (0/1), as the frameworks report them."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    size = getattr(value, "size", None)
    if callable(size):  # torch: .size() is a method; numel() tells the element count
        size = value.numel() if hasattr(value, "numel") else None
    if size == 1 and hasattr(value, "item"):
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        item = value.item()
        if isinstance(item, (bool, int, float)):
            return int(item) if isinstance(item, bool) else item
    return None


def split_logs(logs: dict[str, Any]) -> tuple[dict[str, float | int], dict[str, str]]:
    """Framework logs split into numbers (metrics) and everything else (as text)."""
    numbers, texts = {}, {}
    for key, value in logs.items():
        number = scalar(value)
        if number is None:
            texts[str(key)] = value if isinstance(value, str) else repr(value)
        else:
            numbers[str(key)] = number
    return numbers, texts


def changed(previous: float | None, current: float) -> bool:
    return previous is None or not math.isclose(previous, current, rel_tol=1e-12, abs_tol=0.0)


def log_saved_model(run: Any, save: Callable[[Path], Path], *, name: str, framework: str,
                    rel_path: str = "model", **model_fields: Any) -> Any:
    """Save a model with ``save(folder) -> path`` into a fresh temporary folder, then log that path
    with ``run.log_model`` (it moves under ``outputs/<rel_path>/`` and becomes a new version of
    ``name`` when its bytes changed). Returns the ``ArtifactVersion``."""
    folder = Path(tempfile.mkdtemp(prefix="labbook-model-"))
    try:
        path = save(folder)
        return run.log_model(str(path), name=name, framework=framework, rel_path=rel_path, **model_fields)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def log_saved_file(run: Any, save: Callable[[str], Any], filename: str, *, name: str, framework: str,
                   **model_fields: Any) -> Any:
    """Log a model a library saves to a path (``booster.save_model(path)``) as ``filename``."""

    def into(folder: Path) -> Path:
        path = folder / filename
        save(str(path))
        return path

    return log_saved_model(run, into, name=name, framework=framework, **model_fields)


def copy_and_log_model(run: Any, source: str | Path, *, name: str, framework: str, rel_path: str,
                       **model_fields: Any) -> Any:
    """Log a copy of a file the framework keeps managing (a checkpoint it may overwrite or delete)."""
    source = Path(source)

    def save(folder: Path) -> Path:
        target = folder / source.name
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
        return target

    return log_saved_model(run, save, name=name, framework=framework, rel_path=rel_path, **model_fields)


def polyaxon_init_arguments(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Polyaxon's ``Run``/``tracking.init`` arguments, given positionally or by name, as a dict of
    ``tracking.init`` keywords (the ones left at their defaults dropped, see ``init_arguments``)."""
    from labbook import tracking

    try:
        bound = inspect.signature(tracking.init).bind_partial(*args, **kwargs)
    except TypeError as error:
        from labbook.errors import ConfigError

        raise ConfigError(f"{error}: pass tracking.init's arguments (owner, project, run_uuid, ...).") from None
    settings = bound.arguments.pop("settings", {})
    return init_arguments(**bound.arguments, **settings)


def jsonable(value: Any) -> Any:
    """``value`` as JSON data, or its ``repr`` when it has none (a callable, an estimator inside
    a pipeline): a param is always recorded, never dropped."""
    try:
        return json_value("params", "value", value)
    except Exception:  # noqa: BLE001 - anything JSON cannot hold is recorded as its repr
        if isinstance(value, dict):
            return {str(k): jsonable(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [jsonable(v) for v in value]
        return repr(value)


def jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    return {str(key): jsonable(value) for key, value in params.items()}


def log_importance(run: Any, names: Sequence[str], values: Iterable[float], *, name: str = "feature_importance",
                   importance_type: str = "gain", max_num_features: int | None = None,
                   step: int | None = None) -> dict[str, float]:
    """Log feature importance, largest first, as a chart; returns ``{feature: importance}``.

    With plotly installed: a horizontal plotly bar chart (``log_plotly_chart``). Without it: a
    ``curve`` event whose ``x`` is the rank (0 = most important), ``y`` the importance, and whose
    ``annotation`` lists the feature names in the same order.
    """
    pairs = sorted(((str(n), float(v)) for n, v in zip(names, values)), key=lambda p: -p[1])
    if max_num_features is not None:
        pairs = pairs[:max_num_features]
    if not pairs:
        return {}
    features = [p[0] for p in pairs]
    scores = [p[1] for p in pairs]
    try:
        go = need("plotly.graph_objects", "a feature-importance bar chart")
    except Exception:  # noqa: BLE001 - MissingDependencyError: the documented curve fallback
        run.log_curve(name, list(range(len(scores))), scores,
                      annotation=f"{importance_type} importance by rank: " + ", ".join(features), step=step)
    else:
        figure = go.Figure(go.Bar(x=scores[::-1], y=features[::-1], orientation="h"))
        figure.update_layout(title=f"Feature importance ({importance_type})",
                             xaxis_title=importance_type, yaxis_title="feature")
        run.log_plotly_chart(name, figure, step=step)
    return dict(pairs)


def best_point(points: Iterable[tuple[int, float]], higher_is_better: bool) -> tuple[int, float] | None:
    """(step, value) of the best non-NaN value among ``(step, value)`` points; the first on ties."""
    best: tuple[int, float] | None = None
    for step, value in points:
        value = float(value)
        if math.isnan(value):
            continue
        if best is None or (value > best[1] if higher_is_better else value < best[1]):
            best = (int(step), value)
    return best
