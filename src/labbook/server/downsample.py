"""Min/max-preserving downsampling of a series for charts: no spike is ever lost.

The visible x-range is cut into ``points`` buckets of equal width; each non-empty bucket
reports the x of its first and last point, its first, min, max and last value and its count,
so a chart can draw first -> min/max -> last per pixel column (M4) and a one-point spike shows
at any zoom. When the range holds ``points`` points or fewer they are returned as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Downsampled:
    raw: bool
    total: int  # points in the visible range
    x: list[float]  # raw: every x; buckets: x of each bucket's first point
    y: list[float | None]  # raw: every value; buckets: empty
    x_last: list[float]
    first: list[float | None]
    min: list[float | None]
    max: list[float | None]
    last: list[float | None]
    count: list[int]


def _list(values: np.ndarray) -> list[Any]:
    """Floats for JSON: NaN and infinities become None (JSON has no such numbers)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    return [v if ok else None for v, ok in zip(values.tolist(), finite.tolist())]


def downsample(x: np.ndarray, y: np.ndarray, points: int, x_min: float | None = None,
               x_max: float | None = None) -> Downsampled:
    """Bucket ``(x, y)`` (any order; sorted here by x) into at most ``points`` buckets."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) > 1 and np.any(x[1:] < x[:-1]):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    lo = 0 if x_min is None else int(np.searchsorted(x, x_min, side="left"))
    hi = len(x) if x_max is None else int(np.searchsorted(x, x_max, side="right"))
    x, y = x[lo:hi], y[lo:hi]
    total = len(x)
    if total <= points:
        return Downsampled(True, total, _list(x), _list(y), [], [], [], [], [], [])
    start = x[0] if x_min is None else max(x_min, x[0])
    stop = x[-1] if x_max is None else min(x_max, x[-1])
    edges = np.linspace(start, stop, points + 1)[1:-1]
    starts = np.concatenate(([0], np.searchsorted(x, edges, side="left")))
    starts = np.unique(starts)  # empty buckets share a start: drop them
    ends = np.concatenate((starts[1:], [total]))
    with np.errstate(invalid="ignore"):
        low = np.fmin.reduceat(y, starts)  # fmin/fmax skip NaN, so one NaN cannot hide a bucket
        high = np.fmax.reduceat(y, starts)
    return Downsampled(False, total, _list(x[starts]), [], _list(x[ends - 1]), _list(y[starts]),
                       _list(low), _list(high), _list(y[ends - 1]), (ends - starts).tolist())
