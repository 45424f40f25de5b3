"""Checking and converting what users log: metric values, steps, params."""

from __future__ import annotations

import numbers
from typing import Any

from labbook.errors import InvalidValueError
from labbook.store.record import json_float, to_json_value
from labbook.store.format import STEP_MAX, STEP_MIN  # the steps event files can hold

__all__ = ["json_float", "json_value", "metric_value", "step_value"]


def metric_value(name: str, value: Any) -> float:
    """A float for any single real number: Python, numpy, torch (CPU or CUDA), 0-d arrays."""
    if isinstance(value, (str, bytes)) or value is None:
        hint = " Use log_text for strings." if isinstance(value, (str, bytes)) else ""
        raise InvalidValueError(
            f"log_metric({name!r}) got {type(value).__name__} ({value!r:.60}); metrics take numbers.{hint}"
        )
    if isinstance(value, numbers.Real):  # int, float, bool, Decimal-free numpy scalars, Fraction
        try:
            return float(value)
        except OverflowError:
            raise InvalidValueError(
                f"log_metric({name!r}) got {value!r:.60}, too large for a 64-bit float."
            ) from None
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "item"):
        if tuple(shape) != () and _size(shape) != 1:
            raise InvalidValueError(
                f"log_metric({name!r}) got a {type(value).__name__} of shape {tuple(shape)}; metrics "
                "take one number. Reduce it (e.g. .mean()) or use log_histogram for a distribution."
            )
        if tuple(shape) != ():
            raise InvalidValueError(
                f"log_metric({name!r}) got a {type(value).__name__} of shape {tuple(shape)}; pass the "
                "scalar itself (e.g. value[0] or value.item())."
            )
        item = value.item()  # torch: copies a CUDA scalar to the host
        if isinstance(item, numbers.Real) and not isinstance(item, bool | complex):
            return float(item)
        if isinstance(item, bool):
            return float(item)
    raise InvalidValueError(
        f"log_metric({name!r}) got {type(value).__name__} ({value!r:.60}); metrics take a single "
        "real number (int, float, a numpy or torch scalar)."
    )


def _size(shape: tuple) -> int:
    size = 1
    for dim in shape:
        size *= int(dim)
    return size


def step_value(step: Any) -> int | None:
    """``step`` as an int that event files can hold, or an error naming the argument."""
    if step is None:
        return step
    value = _integer(step)
    if value is None:
        raise InvalidValueError(f"step={step!r:.60} ({type(step).__name__}) is not an integer. Pass an int.")
    if not STEP_MIN <= value <= STEP_MAX:
        raise InvalidValueError(
            f"step={step!r:.60} is outside the steps labbook stores (64-bit integers from "
            f"{STEP_MIN} to {STEP_MAX}). Pass a smaller step."
        )
    return value


def _integer(step: Any) -> int | None:
    if type(step) is int:
        return step
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        return int(step)
    if hasattr(step, "item") and getattr(step, "shape", None) == ():
        item = step.item()
        if isinstance(item, int) and not isinstance(item, bool):
            return item
    if isinstance(step, float) and step.is_integer():
        return int(step)
    return None


def json_value(what: str, key: str, value: Any) -> Any:
    """``value`` as plain JSON data (numbers stay numbers), or a clear error naming ``key``.
    The rule itself (NaN as ``"nan"``, keys as strings, ...) is ``labbook.store.record.to_json_value``."""
    return to_json_value(value, f"{what}: {key}")
