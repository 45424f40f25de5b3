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


EXACT = 2 ** 53  # integers up to this size are exact as float64: compared as integers, same answer


def downsample(x: np.ndarray, y: np.ndarray, points: int, x_min: float | None = None,
               x_max: float | None = None, tiles: Tiles | None = None, x_sorted: bool = False) -> Downsampled:
    """Bucket ``(x, y)`` (any order; sorted here by x) into at most ``points`` buckets.

    ``tiles`` (min and max of every ``size`` consecutive points of ``y`` as given) answers each
    bucket's min and max from whole tiles plus the few points at its edges, with the same result
    as reading every point; they are used only when ``x`` needs no sorting. ``x_sorted``: the
    caller knows ``x`` is in order (a metric's steps), so it is not checked.

    Integer ``x`` (steps) is searched as integers, the bounds and bucket edges rounded to the
    integers that select the same points (``x >= e`` is ``x >= ceil(e)``), so a million steps are
    not copied to floats first; the answer is the same as over their float values."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.dtype.kind not in "iu":
        x = x.astype(np.float64, copy=False)
    if not x_sorted and len(x) > 1 and np.any(x[1:] < x[:-1]):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
        tiles = None  # they describe the points in their stored order
    if x.dtype.kind in "iu" and len(x) and not (-EXACT < int(x[0]) and int(x[-1]) < EXACT):
        x = x.astype(np.float64)  # beyond float64's exact integers: compare as the floats they become
    lo = 0 if x_min is None else int(np.searchsorted(x, _bound(x, x_min, np.ceil), side="left"))
    hi = len(x) if x_max is None else int(np.searchsorted(x, _bound(x, x_max, np.floor), side="right"))
    total = hi - lo
    if total <= points:
        return Downsampled(True, total, _list(x[lo:hi]), _list(y[lo:hi]), [], [], [], [], [], [])
    start = float(x[lo]) if x_min is None else max(x_min, float(x[lo]))
    stop = float(x[hi - 1]) if x_max is None else min(x_max, float(x[hi - 1]))
    edges = np.linspace(start, stop, points + 1)[1:-1]
    if x.dtype.kind in "iu":
        edges = np.ceil(edges).astype(x.dtype)  # within x's range: start and stop are two of its values
    starts = np.clip(np.concatenate(([lo], np.searchsorted(x, edges, side="left"))), lo, hi)
    # empty buckets share a start: drop them (the starts are sorted; np.unique would sort them
    # again, and its first call imports numpy.ma, 40-100 ms of a cold server's first chart)
    starts = starts[np.concatenate(([True], starts[1:] != starts[:-1]))]
    ends = np.concatenate((starts[1:], [hi]))
    if tiles is None:
        with np.errstate(invalid="ignore"):
            low = np.fmin.reduceat(y[:hi], starts)  # fmin/fmax skip NaN, so one NaN cannot hide a bucket
            high = np.fmax.reduceat(y[:hi], starts)
    else:
        low, high = tiles.extremes(y, starts, ends)
    return Downsampled(False, total, _list(x[starts]), [], _list(x[ends - 1]), _list(y[starts]),
                       _list(low), _list(high), _list(y[ends - 1]), (ends - starts).tolist())


def _bound(x: np.ndarray, value: float, to_integer: Any) -> Any:
    """``value`` as ``x`` is searched: for integer ``x`` (within EXACT), the integer ``to_integer``
    (``np.ceil`` for a lower bound, ``np.floor`` for an upper one) rounds it to, held within
    EXACT (so it fits the integer type and selects the same points); NaN selects nothing beyond."""
    if x.dtype.kind not in "iu" or value != value:
        return value
    return x.dtype.type(min(max(to_integer(value), -EXACT), EXACT))


@dataclass
class Tiles:
    """Min and max (NaN skipped, as ``numpy.fmin``) of each ``size`` consecutive points of a series."""

    size: int
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, y: np.ndarray, size: int) -> Tiles:
        y = np.asarray(y, dtype=np.float64)
        starts = np.arange(0, len(y), size)
        if not len(starts):
            return cls(size, np.empty(0), np.empty(0))
        with np.errstate(invalid="ignore"):
            return cls(size, np.fmin.reduceat(y, starts), np.fmax.reduceat(y, starts))

    def extremes(self, y: np.ndarray | None, starts: np.ndarray, ends: np.ndarray,
                 points: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """(min, max) of ``y[starts[k]:ends[k]]`` for each k: whole tiles, then the edge points
        (``points(ufunc, starts, ends)``, when given, reduces those instead of ``y``)."""
        reduce = points or (lambda ufunc, s, e: _pairs(ufunc, y, s, e))
        size = self.size
        first_tile = -(-starts // size)
        end_tile = ends // size
        whole = first_tile < end_tile
        low = np.full(len(starts), np.nan)
        high = np.full(len(starts), np.nan)
        if whole.any():
            low[whole] = _pairs(np.fmin, self.min, first_tile[whole], end_tile[whole])
            high[whole] = _pairs(np.fmax, self.max, first_tile[whole], end_tile[whole])
        # the points outside whole tiles: a head before the first whole tile, a tail after the last
        head_end = np.where(whole, np.minimum(first_tile * size, ends), ends)
        tail_start = np.where(whole, np.maximum(end_tile * size, starts), ends)
        for seg_start, seg_end in ((starts, head_end), (tail_start, ends)):
            some = seg_start < seg_end
            if some.any():
                low[some] = np.fmin(low[some], reduce(np.fmin, seg_start[some], seg_end[some]))
                high[some] = np.fmax(high[some], reduce(np.fmax, seg_start[some], seg_end[some]))
        return low, high


def _pairs(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``ufunc.reduce(values[s:e])`` for each non-empty ``[s, e)`` (in increasing order), in one
    ``reduceat`` call: the odd results, over the gaps between segments, are dropped."""
    bounds = np.empty(2 * len(starts), dtype=np.intp)
    bounds[0::2], bounds[1::2] = starts, ends
    if bounds[-1] == len(values):  # the last segment runs to the end: reduceat's own last slice
        bounds = bounds[:-1]
    with np.errstate(invalid="ignore"):
        return ufunc.reduceat(values, bounds)[0::2]


def downsample_tiled(tiled: Any, points: int, x_min: float | None = None,
                     x_max: float | None = None) -> Downsampled | None:
    """``downsample(steps, values, points, x_min, x_max, x_sorted=True)`` of a series known by its
    tiles (``labbook.store.tiles.TiledRecords``: the last step and the min and max of every tile,
    and the records of the tiles asked for), reading only the tiles where a bound or a bucket edge
    falls: the same answer. None when this way does not apply (steps beyond 2^53, a NaN bound):
    the caller reads the points."""
    n, size = tiled.count, tiled.tile
    if not n or (x_min is not None and x_min != x_min) or (x_max is not None and x_max != x_max):
        return None
    ends_steps, _ = tiled.points(np.array([0, n - 1]))  # the first and last steps
    if not (-EXACT < int(ends_steps[0]) and int(ends_steps[1]) < EXACT):
        return None
    with tiled.lock:  # the tiles it holds are read and added to under its lock
        return _downsample_tiled(tiled, points, x_min, x_max, n, size)


def _downsample_tiled(tiled: Any, points: int, x_min: float | None, x_max: float | None, n: int,
                      size: int) -> Downsampled:
    step_last = tiled.step_last
    steps_type = np.empty(0, dtype=np.int64)
    bounds = [np.array([_bound(steps_type, b, round_to)]) for b, round_to in ((x_min, np.ceil), (x_max, np.floor))
              if b is not None]
    # the tiles where a bound or (below) a bucket edge falls, read at once; a tile found missing
    # later (the one before an edge, when the edge is a tile's first record) is read then
    block = tiled.held
    block.ensure(np.concatenate([[0, len(step_last) - 1]] + [np.searchsorted(step_last, b) for b in bounds])
                 .clip(0, len(step_last) - 1))

    def search(values: np.ndarray, side: str) -> np.ndarray:
        """``np.searchsorted(steps, values, side)``: the tile from the tiles' last steps, then
        the place in that tile from its records."""
        tile = np.searchsorted(step_last, values, side=side)
        found = np.full(len(values), n, dtype=np.int64)
        inside = tile < len(step_last)
        if inside.any():
            index = tile[inside, None] * size + np.arange(size)
            steps, _ = block.points(np.minimum(index, n - 1))
            steps = np.where(index < n, steps, np.iinfo(np.int64).max)  # past the end: after any bound
            wanted = values[inside, None]
            found[inside] = tile[inside] * size + (steps < wanted if side == "left" else steps <= wanted).sum(axis=1)
        return found

    lo = 0 if x_min is None else int(search(np.array([_bound(steps_type, x_min, np.ceil)]), "left")[0])
    hi = n if x_max is None else int(search(np.array([_bound(steps_type, x_max, np.floor)]), "right")[0])
    total = hi - lo
    if total <= points:
        x, y = tiled.points(np.arange(lo, max(lo, hi)))
        return Downsampled(True, total, _list(x), _list(y), [], [], [], [], [], [])
    (first, last), _ = block.points(np.array([lo, hi - 1]))
    start = float(first) if x_min is None else max(x_min, float(first))
    stop = float(last) if x_max is None else min(x_max, float(last))
    edges = np.ceil(np.linspace(start, stop, points + 1)[1:-1]).astype(np.int64)
    edge_tiles = np.searchsorted(step_last, edges)
    block.ensure(np.concatenate((edge_tiles, [lo // size, (hi - 1) // size])).clip(0, len(step_last) - 1))
    starts = np.clip(np.concatenate(([lo], search(edges, "left"))), lo, hi)
    starts = starts[np.concatenate(([True], starts[1:] != starts[:-1]))]
    ends = np.concatenate((starts[1:], [hi]))

    def edge_points(ufunc: np.ufunc, seg_start: np.ndarray, seg_end: np.ndarray) -> np.ndarray:
        """``ufunc.reduce`` of each ``[seg_start, seg_end)`` from the block's records: each lies in
        one tile or two consecutive ones, which are adjacent in the block as in the file."""
        block.ensure(np.concatenate((seg_start // size, (seg_end - 1) // size)))
        at = block.position(seg_start)
        return _pairs(ufunc, block.values, at, at + (seg_end - seg_start))

    low, high = Tiles(size, tiled.min, tiled.max).extremes(None, starts, ends, edge_points)
    x_first, y_first = block.points(starts)
    x_last, y_last = block.points(ends - 1)
    return Downsampled(False, total, _list(x_first), [], _list(x_last), _list(y_first),
                       _list(low), _list(high), _list(y_last), (ends - starts).tolist())
