"""Checking and converting what users log, at the ground level: every layer may use it.

* ``to_json_value`` is the one rule for turning user values into run.json data: numbers stay
  numbers, NaN and infinities become the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (JSON has
  neither, and ``null`` would lose them), numpy and torch values become plain lists and numbers,
  keys become strings, and anything that cannot be stored faithfully is an error naming where it is.
* ``metric_value``, ``step_value`` and ``json_value`` check metric values, steps and params.
* ``check_flag`` checks a yes/no argument.

It imports only ``labbook.errors``: ``store``, ``writer``, ``media`` and ``tracking`` all use it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import numbers
import sys
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

import orjson

from labbook.errors import InvalidTypeError, InvalidValueError

__all__ = ["check_flag", "json_float", "json_value", "metric_value", "step_value", "to_json_value"]

NO_STEP = -(2**63)  # marks a record logged without a step, in binary event files only
STEP_MIN, STEP_MAX = NO_STEP + 1, 2**63 - 1  # the steps an event record can hold

MAX_DEPTH = 100  # nesting levels a value may have; orjson itself stops at 255
_INT64 = (-(2**63), 2**64 - 1)  # what orjson (and so run.json) can write


def json_float(value: float) -> Any:
    """JSON has no NaN or infinity: keep them faithfully as the strings 'nan', 'inf', '-inf'."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def to_json_value(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON data, or ``InvalidValueError`` naming ``where`` (e.g. ``"lr"``).

    >>> to_json_value({"lr": numpy.float32("nan"), 3: (1, 2)})
    {'lr': 'nan', '3': [1, 2]}
    """
    return _convert(value, where, 0, set())


def _convert(value: Any, where: str, depth: int, path_ids: set[int]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, int):
        if not _INT64[0] <= value <= _INT64[1]:
            raise InvalidValueError(f"{where}={value!r:.60} is too large an integer for run.json "
                                    "(64 bits at most). Pass it as a float or a string.")
        return int(value)
    if isinstance(value, float):
        return json_float(float(value))
    if depth >= MAX_DEPTH:
        where = f"{where[:60]}...{where[-20:]}" if len(where) > 90 else where
        raise InvalidValueError(f"{where} is nested more than {MAX_DEPTH} levels deep. "
                                "Flatten it, or store it as an artifact instead.")
    if isinstance(value, (Mapping, list, tuple, set, frozenset)) or dataclasses.is_dataclass(value):
        if id(value) in path_ids:
            raise InvalidValueError(f"{where} contains itself (a circular reference). "
                                    "Pass a copy without the cycle.")
        path_ids.add(id(value))
        try:
            if isinstance(value, Mapping) or dataclasses.is_dataclass(value):
                items = (value.items() if isinstance(value, Mapping)
                         else ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value)))
                return _convert_dict(items, where, depth, path_ids)
            return [_convert(v, f"{where}[{i}]", depth + 1, path_ids) for i, v in enumerate(value)]
        finally:
            path_ids.discard(id(value))
    if isinstance(value, enum.Enum):
        return _convert(value.value, where, depth, path_ids)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (datetime, date, time)) or (hasattr(value, "isoformat") and not hasattr(value, "tolist")):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors, pandas series
        numbers_only = _numeric_array(value)
        if numbers_only is not None:
            return numbers_only
        return _convert(value.tolist(), where, depth, path_ids)
    if isinstance(value, numbers.Real):  # Fraction, Decimal-like reals
        return json_float(float(value))
    raise InvalidValueError(
        f"{where}={value!r:.80} ({type(value).__name__}) cannot be stored as JSON. "
        "Pass numbers, strings, booleans, None, lists or dicts of them."
    )


def _numeric_array(value: Any) -> list | None:
    """A numpy array of integers, booleans or floats as JSON lists, without a Python-level walk
    over every item (NaN and infinities by the same rule); None for anything else."""
    numpy = sys.modules.get("numpy")
    if numpy is None or not isinstance(value, numpy.ndarray) or value.dtype.kind not in "biuf":
        return None
    if value.dtype.kind != "f" or numpy.isfinite(value).all():
        return value.tolist()
    out = value.astype(object)
    out[numpy.isnan(value)] = "nan"
    out[numpy.isposinf(value)] = "inf"
    out[numpy.isneginf(value)] = "-inf"
    return out.tolist()


def _convert_dict(items: Any, where: str, depth: int, path_ids: set[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    originals: dict[str, Any] = {}
    for key, item in items:
        text = _key(key, where)
        if text in originals:
            raise InvalidValueError(
                f"{where} has the keys {originals[text]!r} and {key!r}, which are both stored as "
                f"{text!r}. Rename one of them."
            )
        originals[text] = key
        out[text] = _convert(item, f"{where}[{key!r}]", depth + 1, path_ids)
    return out


def _text(value: str, where: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidValueError(
                f"{where} holds text that is not valid Unicode ({error.reason} at position "
                f"{error.start}: {value[error.start]!r}). Decode it properly or drop that character."
            ) from None
    return str(value)


def _key(key: Any, where: str) -> str:
    if isinstance(key, str):
        return _text(key, where)
    if isinstance(key, bool) or key is None:
        return orjson.dumps(key).decode()  # true, false, null: as JSON writes them
    if hasattr(key, "item") and getattr(key, "shape", None) == ():
        key = key.item()  # a numpy scalar
    if isinstance(key, (int, float, uuid.UUID)):
        return str(_convert(key, where, 0, set()))
    if isinstance(key, enum.Enum):
        return _key(key.value, where)
    if isinstance(key, (datetime, date, time)):
        return key.isoformat()
    raise InvalidValueError(
        f"{where} has the key {key!r:.60} ({type(key).__name__}); keys must be strings or numbers. "
        "Convert it to a string."
    )


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
    The rule itself (NaN as ``"nan"``, keys as strings, ...) is ``to_json_value``."""
    return to_json_value(value, f"{what}: {key}")


def check_flag(function: str, argument: str, value: Any) -> None:
    """A yes/no argument: True, False (or 1, 0), or None."""
    if value is None or isinstance(value, bool) or (type(value) is int and value in (0, 1)):
        return
    if type(value).__name__ == "bool_":  # numpy's bool
        return
    raise InvalidTypeError(f"{function}({argument}=...) got {type(value).__name__} ({value!r:.60}); "
                           "pass True or False.")
