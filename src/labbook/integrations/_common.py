"""What the framework integrations share: the run to log to, JSON-safe params, saving a model
through a temporary folder, the feature-importance chart and the best point of a series.

Everything here goes through the public ``Run`` API only.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from labbook.media.optional import need
from labbook.tracking.values import json_value


def resolve_run(run: Any = None) -> Any:
    """``run`` if given, else the active run, else a new one (Polyaxon's ``get_or_create_run``)."""
    from labbook import tracking

    return tracking.get_or_create_run(run)


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


def log_saved_model(run: Any, save: Callable[[str], Any], filename: str, name: str, framework: str,
                    **meta: Any) -> Any:
    """Call ``save(path)`` into a temporary folder and log the file as model ``name``
    (``outputs/model/<filename>``); returns the ``ArtifactVersion``."""
    with tempfile.TemporaryDirectory(prefix="labbook-model-") as folder:
        path = str(Path(folder) / filename)
        save(path)
        return run.log_model(path, name=name, framework=framework, **meta)


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
