"""What every framework integration shares: finding the run, turning framework values into
numbers, and logging a saved model as a versioned artifact. Public ``Run`` API only."""

from __future__ import annotations

import inspect
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable


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
