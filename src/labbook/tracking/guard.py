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
from typing import Any, Callable

from labbook.errors import (InvalidNameError, InvalidValueError, LabbookError, MissingDependencyError,
                            PathEscapeError, RunStateError, WriteError)

_NOT_GUARDED = frozenset({"log_status", "log_succeeded", "log_failed", "log_stopped"})


def reason_of(error: LabbookError) -> str:
    from labbook.writer.writer import loss_reason

    if isinstance(error, WriteError):
        return loss_reason(error)
    if isinstance(error, (InvalidValueError, InvalidNameError, PathEscapeError)):
        return "invalid_value"
    if isinstance(error, MissingDependencyError):
        return "missing_dependency"
    return "error"


def guard_methods(run: Any) -> None:
    """Replace every ``log_*`` method of ``run`` (but the status ones) by a counting one."""
    for name in dir(type(run)):
        if name.startswith("log_") and name not in _NOT_GUARDED:
            setattr(run, name, _guarded(run, name, getattr(run, name)))
    guarded_metrics = run.log_metrics  # what tracking.log_metrics calls goes through it too
    run._log_metrics = lambda step, timestamp, metrics: guarded_metrics(step, timestamp, **metrics)


def _guarded(run: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except RunStateError:
            raise
        except LabbookError as error:
            count = 1
            if name == "log_metrics":  # one value per metric passed
                count = max(1, len([k for k in kwargs if k not in ("step", "timestamp")]))
            run._writer.drop(reason_of(error), count, f"{name}: {error}")
            return None

    return guarded
