"""A run's record: the JSON values run.json holds, and reading a folder back into one record.

``to_json_value`` is the one rule for turning user values into run.json data: numbers stay
numbers, NaN and infinities become the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (JSON has
neither, and ``null`` would lose them), numpy and torch values become plain lists and numbers,
keys become strings, and anything that cannot be stored faithfully is an error naming where it is.
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
from pathlib import Path
from typing import Any

import orjson

from labbook.errors import InvalidValueError
from labbook.store.layout import RunFolder
from labbook.store.runfile import read_run_file

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


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value)  # "nan", "inf" and "-inf" are kept as text in JSON


def merge_summaries(per_writer: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """One summary per metric across every writer's file."""
    merged: dict[str, dict[str, Any]] = {}
    for summaries in per_writer:
        for name, s in summaries.items():
            m = merged.get(name)
            if m is None:
                merged[name] = dict(s)
                continue
            m["count"] += s["count"]
            for key, pick in (("min", min), ("max", max)):
                if s.get(key) is not None:
                    m[key] = s[key] if m.get(key) is None else pick(m[key], s[key])
            if (s["last_timestamp"], s["last_step"]) > (m["last_timestamp"], m["last_step"]):
                m["last"], m["last_timestamp"] = s["last"], s["last_timestamp"]
            m["last_step"] = max(m["last_step"], s["last_step"])
    for m in merged.values():
        m["last"] = _as_float(m.get("last"))
    return merged


def read_summaries(folder: RunFolder) -> dict[str, dict[str, Any]]:
    per_writer = []
    if folder.summaries.is_dir():
        for path in sorted(folder.summaries.glob("*.json")):
            try:
                per_writer.append(orjson.loads(path.read_bytes())["metrics"])
            except (orjson.JSONDecodeError, KeyError, OSError):
                continue  # a summary is derived data; the event files still hold every point
    return merge_summaries(per_writer)


def read_run_record(path: Path) -> dict[str, Any]:
    """run.json with ``metrics`` (merged summaries) and ``path`` added."""
    folder = RunFolder(Path(path))
    record = read_run_file(folder.run_file)
    record["metrics"] = read_summaries(folder)
    record["path"] = str(folder.path)
    return record
