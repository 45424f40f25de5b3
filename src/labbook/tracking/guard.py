"""The never-crash mode: logging that counts what fails instead of raising into training.

Off by default: a value that cannot be logged raises at the call site, and a write that fails
(a full disk) raises at the next logging call. With ``never_crash`` (``LABBOOK_NEVER_CRASH=1``,
``never_crash = true`` in config.toml, or ``init(never_crash=True)``) every ``log_*`` method of
the run catches labbook's errors instead, and counts what was left out per reason::

    invalid_value        a value, name, step or timestamp that cannot be stored
    disk_full            records a full disk kept out (beyond max_pending, or still at end())
    write_error          the same for any other write failure
    missing_dependency   an optional library a value needed is not installed
    error                anything else labbook refused

The counts, each with its first message, are printed at ``end()`` and kept in run.json
``dropped.<writer id>``. Ending the run or setting its status still raise (those are mistakes in
the script, not in the data), as does logging after ``end()``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from labbook.errors import (
    InvalidNameError,
    InvalidValueError,
    LabbookError,
    MissingDependencyError,
    PathEscapeError,
    RunStateError,
    WriteError,
)

R = TypeVar("R")
_NOT_GUARDED = frozenset({"log_status", "log_succeeded", "log_failed", "log_stopped"})

if TYPE_CHECKING:
    from labbook.writer.surface import RunSurface


def reason_of(error: LabbookError) -> str:
    from labbook.writer.writer import loss_reason

    if isinstance(error, WriteError):
        return loss_reason(error)
    if isinstance(error, (InvalidValueError, InvalidNameError, PathEscapeError)):
        return "invalid_value"
    if isinstance(error, MissingDependencyError):
        return "missing_dependency"
    return "error"


_NEVER_CRASH_CLASSES: dict[type, type] = {}


def never_crash_class(cls: type[R]) -> type[R]:
    """``cls`` with every ``log_*`` method (but the status ones) replaced by one that counts what
    it could not log instead of raising: the class ``Run(never_crash=True)`` makes (made once)."""
    made = _NEVER_CRASH_CLASSES.get(cls)
    if made is None:
        made = _NEVER_CRASH_CLASSES[cls] = _never_crash_class(cls)
    return made


def _never_crash_class(cls: type[R]) -> type[R]:
    namespace: dict[str, Any] = {"__doc__": cls.__doc__, "__module__": cls.__module__}
    for name in dir(cls):
        if name.startswith("log_") and name not in _NOT_GUARDED:
            namespace[name] = _guarded(name, getattr(cls, name))
    queue_metrics = getattr(cls, "_log_metrics", None)
    if "log_metrics" in namespace and queue_metrics is not None:
        # what tracking.log_metrics calls (its keyword dict as it is) is guarded too, without
        # packing the dict into keywords again: ``(step, timestamp, metrics)``
        namespace["_log_metrics"] = _guarded("log_metrics", queue_metrics, _metrics_in_dict)
    return type(f"NeverCrash{cls.__name__}", (cls,), namespace)


def _guarded(name: str, method: Callable[..., Any],
             count: Callable[[tuple, dict], int] | None = None) -> Callable[..., Any]:
    """``method`` counting what a call that raised left out instead of raising: ``count(args,
    kwargs)`` values (one value per metric for ``log_metrics``, else one), at least one."""
    if count is None:
        count = _metrics_passed if name == "log_metrics" else _one

    @functools.wraps(method)
    def guarded(self: RunSurface, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except RunStateError:
            raise
        except LabbookError as error:
            self._writer.drop(reason_of(error), max(1, count(args, kwargs)), f"{name}: {error}")
            return None

    return guarded


def _one(args: tuple, kwargs: dict) -> int:
    return 1


def _metrics_passed(args: tuple, kwargs: dict) -> int:
    """``log_metrics(step=..., **metrics)``: one value per metric passed."""
    return len([k for k in kwargs if k not in ("step", "timestamp")])


def _metrics_in_dict(args: tuple, kwargs: dict) -> int:
    """``_log_metrics(step, timestamp, metrics)``: one value per metric in the dict."""
    return len(args[2]) if len(args) > 2 else 1
