"""labbook: experiment tracking and artifact lineage, embedded by default.

::

    from labbook import tracking

    tracking.init(project="mnist")
    tracking.log_metrics(step=1, loss=0.5)
    tracking.end()

    import labbook
    run = labbook.get_run(uuid)              # one call, one workspace
    with labbook.Workspace(home="/data/.labbook") as ws:   # many reads, one catalog
        rows = ws.search_runs("mnist", filter="metrics.loss < 0.5")

Importing ``labbook`` is cheap: submodules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "tracking": ("labbook.tracking", None),
    "Run": ("labbook.tracking.run", "Run"),
    "Workspace": ("labbook.workspace", "Workspace"),
    "get_run": ("labbook.workspace", "get_run"),
    "search_runs": ("labbook.workspace", "search_runs"),
    "list_runs": ("labbook.workspace", "list_runs"),
    "list_projects": ("labbook.workspace", "list_projects"),
    "RunRecord": ("labbook.runs", "RunRecord"),
    "MetricSeries": ("labbook.store.events", "MetricSeries"),
    "Event": ("labbook.store.events", "Event"),
    "get_artifact": ("labbook.workspace", "get_artifact"),
    "list_artifacts": ("labbook.workspace", "list_artifacts"),
    "get_lineage": ("labbook.workspace", "get_lineage"),
    "tag_artifact": ("labbook.workspace", "tag_artifact"),
    "untag_artifact": ("labbook.workspace", "untag_artifact"),
    "delete_artifact": ("labbook.workspace", "delete_artifact"),
    "ArtifactVersion": ("labbook.artifacts.version", "ArtifactVersion"),
    "LabbookError": ("labbook.errors", "LabbookError"),
    "errors": ("labbook.errors", None),
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'labbook' has no attribute {name!r}")
    module = importlib.import_module(target[0])
    value = module if target[1] is None else getattr(module, target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
