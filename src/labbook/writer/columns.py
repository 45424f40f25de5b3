"""The metric queue's column packer: the writer's encoding of queued metric records.

The queue is flat (``RunWriter.metrics``): ``RECORD_WIDTH`` entries per record, ``series id,
step or None, time in µs, value`` from ``log_metric`` or ``ids, step, time, values`` from
``log_metrics``. When the series repeat in the same order (``_period``), each column is a strided
slice of the queue, packed by one ``struct.pack`` (``_packed``) and interleaved into the metric
file's 24-byte records (``_records``); ``_summary_of`` is what a batch adds to a series' summary.
No numpy in a logging process.
"""

from __future__ import annotations

import math
import struct
from operator import itemgetter
from typing import Any, Iterable

RECORD_WIDTH = 4  # queue entries per metric record (see RunWriter._drain_metrics)
_SECOND, _THIRD, _FOURTH = (itemgetter(i) for i in range(1, 4))
# What packing a column raises for a record the call site should have refused (see _packed).
_UNPACKABLE = (struct.error, OverflowError, ValueError, TypeError)


def _split_rows(records: list[tuple]) -> list[tuple]:
    """Queued records with each ``log_metrics`` row ``(ids, step, time, values)`` split into one
    ``(id, step, time, value)`` record per metric, in the order they were logged."""
    out: list[tuple] = []
    for record in records:
        ids = record[0]
        if type(ids) is tuple:
            _, step, moment, values = record
            out.extend((series_id, step, moment, value) for series_id, value in zip(ids, values))
        else:
            out.append(record)
    return out


def _period(ids: list) -> int:
    """After how many records the queued series repeat in the same order: 1 for one series or
    one log_metrics row, n when the same n metrics are logged in turn (each series then stands
    at every n-th record); 0 when they do not repeat so, or too few times to be worth it."""
    count = len(ids)
    if ids.count(ids[0]) == count:
        return 1
    period = len(set(ids))
    if count < 4 * period:
        return 0
    head = ids[:period]
    series = [x for ids_at in head for x in (ids_at if type(ids_at) is tuple else (ids_at,))]
    if len(set(series)) != len(series):  # a series in two of the repeating records
        return 0
    return period if (head * (count // period + 1))[:count] == ids else 0


def _pack_position(queue: list, position: int, period: int, ids_at: Any) -> tuple:
    """The records at ``position``, ``position + period``, ... of a flat queue (see
    ``_period``): ``(ids, (steps, packed steps or None, packed times, last time, packed
    values), values as floats)``. For a ``log_metrics`` row (``ids`` a tuple), the packed values
    and the floats are lists with one entry per metric of the row: its column, transposed from
    the rows in one ``zip`` (a column's values are then packed, summed and compared in C, with
    no per-metric slicing of the rows)."""
    at, stride = RECORD_WIDTH * position, RECORD_WIDTH * period
    steps = queue[at + 1::stride]
    count = len(steps)
    times = queue[at + 2::stride]
    floats = queue[at + 3::stride]
    if type(ids_at) is tuple:
        floats = list(zip(*floats))  # a row holds one value per name of ids_at: whole columns
        values = [_packed("d", column, count) for column in floats]
    else:
        values = _packed("d", floats, count)
    packed_steps = None if None in steps else _packed("q", steps, count)
    return ids_at, (steps, packed_steps, _packed("q", times, count), times[-1], values), floats


def _group_columns(group: list[tuple]) -> tuple:
    """``(steps, packed steps or None, packed times, last time, packed values)`` of one
    series' records ``(id, step, time µs, value)``."""
    count = len(group)
    steps = list(map(_SECOND, group))
    return (steps, None if None in steps else _packed("q", steps, count),
            _packed("q", map(_THIRD, group), count), group[-1][2], _packed("d", map(_FOURTH, group), count))


def _summary_of(values: list, last_step: int, last_time: int) -> tuple:
    """What records add to their series' summary: ``(count, min, max, last value, last step,
    last time µs)``, min and max over the finite values (None without one)."""
    try:
        all_finite = math.isfinite(sum(values))  # NaN or inf anywhere makes the sum so
    except OverflowError:
        all_finite = False
    finite = values if all_finite else [v for v in values if math.isfinite(v)]
    low, high = (float(min(finite)), float(max(finite))) if finite else (None, None)  # an int as a float
    return len(values), low, high, float(values[-1]), last_step, last_time


def _packed(code: str, items: Iterable[Any], count: int) -> memoryview:
    """``count`` items packed little-endian as int64 (``code`` "q") or float64 ("d"), viewed as
    8-byte units so that columns of either kind interleave by plain copies. Raises
    ``struct.error`` for an item that is not an int64 (None, a float time, a step past the
    range), a number of items other than ``count``, or TypeError for a value that is no number."""
    return memoryview(struct.pack(f"<{count}{code}", *items)).cast("q")


def _records(steps: memoryview, times: memoryview, values: memoryview | None) -> bytearray:
    """Packed columns (``_packed``) as the metric file's records: (step, time µs, value), 24
    bytes each, little-endian (``labbook.store.format``'s ``metric_dtype``); without
    ``values``, their place is left zero (a frame that several metrics' values fill)."""
    data = bytearray(24 * len(steps))
    records = memoryview(data).cast("q")
    records[0::3] = steps
    records[1::3] = times
    if values is not None:
        records[2::3] = values
    return data
