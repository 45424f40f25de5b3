"""The event file format: the one module that knows how series are encoded on disk.

Format version 1 (documented in docs/format.md):

* Every series file starts with one JSON header line:
  ``{"format": "labbook.events", "version": 1, "kind": ..., "name": ..., "writer": ..., ...}``.
* ``metric`` files (``.lbm``) continue with fixed 24-byte little-endian records
  ``(int64 step, int64 timestamp in µs since the Unix epoch, UTC, float64 value)``: a columnar
  read is one ``numpy.frombuffer`` call, and a torn tail is a partial record, which is dropped.
* Every other kind (``.jsonl``) continues with one JSON object per line,
  ``{"step": 3, "timestamp": "2026-11-23T04:38:50.123456+00:00", "value": ...}``.
  A last line without its newline is a torn write and is skipped.
* ``resources`` files (``.lbr``, one per sampling writer) have no ``name`` but ``"columns":
  [names...]`` in their header, and continue with fixed little-endian records ``(int64 step,
  int64 timestamp in µs, float64 per column)``, NaN where a sample has no value for a column.

Files are append-only and have exactly one writer each. Writers only ever leave whole records
(a failed append is cut back), but readers still skip what they cannot parse, and count it: a
damaged JSON line, or the bytes before a header that an older writer appended mid-file.
"""

from __future__ import annotations

import math
import numbers
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

import orjson

from labbook._values import NO_STEP, STEP_MAX, STEP_MIN  # noqa: F401 - the steps a record can hold
from labbook.errors import EventFileError

FORMAT_NAME = "labbook.events"
FORMAT_VERSION = 1
RECORD_SIZE = 24
# Timestamps every reader can show as a datetime (years 1 to 9999, a day inside either end).
EPOCH_US_MIN, EPOCH_US_MAX = -62_135_510_400_000_000, 253_402_128_000_000_000
_HEADER_START = b'{"format":"labbook.events"'
_UTC = timezone.utc


def header_bytes(kind: str, name: str | None, writer_id: str, **extra: Any) -> bytes:
    """A series file's header line; ``name`` None for a file of several series (``resources``)."""
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": kind, "name": name,
              "writer": writer_id, **extra}
    if name is None:
        del header["name"]
    return orjson.dumps(header) + b"\n"


def read_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        return parse_header(handle.readline(), path)


def parse_header(line: bytes, path: Path) -> dict[str, Any]:
    """The header of the file at ``path`` from its first line (``line``, newline included)."""
    if not line.endswith(b"\n"):
        raise EventFileError(f"{path} has no complete header line: the file is damaged or still being written.")
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise EventFileError(f"{path} is not a labbook event file (its header has no \"format\": {FORMAT_NAME!r}).")
    if header.get("version", 0) > FORMAT_VERSION:
        raise EventFileError(
            f"{path} uses event format version {header['version']}; this labbook reads up to "
            f"{FORMAT_VERSION}. Upgrade labbook."
        )
    return header


def iso(epoch_us: int) -> str:
    """ISO 8601 text, UTC, microseconds, for a µs-since-epoch timestamp."""
    return datetime.fromtimestamp(epoch_us / 1e6, tz=_UTC).isoformat(timespec="microseconds")


def to_epoch_us(timestamp: datetime | str | float | int | None) -> int:
    """Microseconds since the epoch for any timestamp a user may pass (None means now).

    Anything else, or a moment outside years 1 to 9999, is an ``InvalidValueError`` naming the
    ``timestamp`` argument, raised here on the caller's thread rather than by the writer later.
    """
    import time

    if timestamp is None:
        return time.time_ns() // 1000
    moment = None
    try:
        if isinstance(timestamp, str):
            timestamp = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        if isinstance(timestamp, datetime):
            if timestamp.tzinfo is None:
                timestamp = timestamp.astimezone()  # naive means local time, as datetime.now() gives
            moment = round(timestamp.timestamp() * 1e6)
        elif isinstance(timestamp, numbers.Real) and not isinstance(timestamp, bool):
            seconds = float(timestamp)
            if math.isfinite(seconds):
                moment = round(seconds * 1e6)  # seconds since the epoch, as time.time() gives
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is not None and EPOCH_US_MIN <= moment <= EPOCH_US_MAX:
        return moment
    from labbook.errors import InvalidValueError

    raise InvalidValueError(
        f"timestamp={timestamp!r:.80} ({type(timestamp).__name__}) is not a usable moment. Pass a "
        "datetime, an ISO 8601 string ('2026-11-23T04:38:50+00:00') or seconds since the epoch "
        "(time.time()), between the years 1 and 9999."
    )


# -- metric files ----------------------------------------------------------------------------


def metric_dtype() -> Any:
    import numpy as np

    return np.dtype([("step", "<i8"), ("timestamp", "<i8"), ("value", "<f8")])


def encode_metric_records(steps: Sequence[int], times_us: Sequence[int], values: Sequence[float]) -> bytes:
    """Records ``(step, timestamp µs, value)`` as the metric file's bytes (``metric_dtype``),
    from three equally long sequences, with the standard library alone: a logging process does
    not need numpy. Raises OverflowError or TypeError for a step or time that is not an int64,
    or a value that is not a number."""
    from array import array

    count = len(values)
    data = bytearray(24 * count)
    whole = memoryview(data).cast("q")
    whole[0::3] = steps if isinstance(steps, array) and steps.typecode == "q" else array("q", steps)
    whole[1::3] = times_us if isinstance(times_us, array) and times_us.typecode == "q" else array("q", times_us)
    memoryview(data).cast("d")[2::3] = (values if isinstance(values, array) and values.typecode == "d"
                                        else array("d", values))
    if sys.byteorder != "little":  # the files are little-endian everywhere
        swapped = array("q", bytes(data))
        swapped.byteswap()
        return swapped.tobytes()
    return bytes(data)


def decode_metric_columns(data: bytes) -> tuple[memoryview[int], memoryview[int], memoryview[float]]:
    """(steps, timestamps µs, values) of whole metric records, as views (no numpy; little-endian
    hosts: elsewhere readers use ``read_metric_records``)."""
    if sys.byteorder != "little":
        from array import array

        swapped = array("q", bytes(data))
        swapped.byteswap()
        data = swapped.tobytes()
    ints = memoryview(data).cast("q")
    return ints[0::3], ints[1::3], memoryview(data).cast("d")[2::3]


def encode_metric_record(step: int, time_us: int, value: float) -> bytes:
    """One record, the same bytes as above, without numpy (for writers that log rarely)."""
    import struct

    return struct.pack("<qqd", step, time_us, value)


def read_metric_file(path: Path) -> Any:
    """Records of one metric file as a numpy structured array; a torn tail is dropped."""
    return read_metric_records(path)[0]


def read_metric_records(path: Path) -> tuple[Any, int]:
    """``(records, skipped)`` of one metric file: a torn tail is dropped, not counted.

    Fixed-size records cannot be resynchronised after a lost byte in general, and writers never
    leave one (a failed append is cut back to its last whole record). The one damage that can be
    found is a second header line mid-file, as older writers appended after a fork or a failed
    write: the partial record before it is skipped and counted, and reading resumes after it.
    Such damage leaves the file's length off the record grid (but for one case in 24), which is
    what makes a reader look for it; an intact file is read without a scan.
    """
    return parse_metric_records(path.read_bytes())


def parse_metric_records(data: bytes) -> tuple[Any, int]:
    """``(records, skipped)`` of a metric file's bytes (header line included), as above."""
    import numpy as np

    dtype = metric_dtype()
    start = data.find(b"\n") + 1
    if start == 0:  # the header itself was torn
        return np.empty(0, dtype=dtype), 0
    count, torn = divmod(len(data) - start, RECORD_SIZE)
    found = data.find(_HEADER_START, start) if torn else -1
    if found < 0:  # the common case: one header, then whole records (and maybe a torn tail)
        return np.frombuffer(data, dtype=dtype, count=count, offset=start), 0
    parts, skipped = [], 0
    while True:
        end = len(data) if found < 0 else found
        count = (end - start) // RECORD_SIZE
        parts.append(np.frombuffer(data, dtype=dtype, count=count, offset=start))
        if found < 0:
            break
        skipped += -(-((end - start) % RECORD_SIZE) // RECORD_SIZE)  # a partial record: one
        newline = data.find(b"\n", found)
        if newline < 0:  # a torn header at the very end
            break
        start = newline + 1
        found = data.find(_HEADER_START, start)
    return np.concatenate(parts), skipped


# -- resources files -------------------------------------------------------------------------

RESOURCES_KIND = "resources"


def encode_resource_record(step: int, time_us: int, values: Sequence[float]) -> bytes:
    """One record of a resources file: step, timestamp µs, then one float64 per column (NaN
    where the sample has no value), with ``struct``: a sampling process needs no numpy."""
    import struct

    return struct.pack(f"<qq{len(values)}d", step, time_us, *values)


def resource_record_size(columns: int) -> int:
    return 16 + 8 * columns


def parse_resource_column(data: bytes, columns: int, column: int) -> Any:
    """The points of column ``column`` (of ``columns``) in a resources file's bytes (header line
    included), as metric records (``metric_dtype``): the rows where it is NaN (no value in that
    sample) are left out, and so is a torn tail."""
    import numpy as np

    start = data.find(b"\n") + 1
    size = resource_record_size(columns)
    if start == 0 or not 0 <= column < columns:
        return np.empty(0, dtype=metric_dtype())
    dtype = np.dtype({"names": ["step", "timestamp", "value"], "formats": ["<i8", "<i8", "<f8"],
                      "offsets": [0, 8, 16 + 8 * column], "itemsize": size})
    rows = np.frombuffer(data, dtype=dtype, count=(len(data) - start) // size, offset=start)
    rows = rows[~np.isnan(rows["value"])]
    records = np.empty(len(rows), dtype=metric_dtype())
    for field in ("step", "timestamp", "value"):
        records[field] = rows[field]
    return records


# -- JSON-lines files ------------------------------------------------------------------------


def encode_json_record(step: int | None, time_us: int, value: Any) -> bytes:
    return orjson.dumps(
        {"step": step, "timestamp": iso(time_us), "value": value},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
    )


def iter_json_records(path: Path, skipped: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """Records of one JSON-lines file, in order; the header and a torn last line are skipped.

    A line in the middle that is not a record (damaged on disk) is skipped too, and counted in
    ``skipped[0]`` when a one-item list is passed, so the rest of the series still reads.
    """
    data = path.read_bytes()
    lines = data.split(b"\n")
    # the last element is b"" after a complete file, or a torn line: skip it either way
    for line in lines[1:-1]:
        if not line:
            continue
        try:
            record = orjson.loads(line)
            if not isinstance(record, dict) or "value" not in record or "timestamp" not in record:
                raise ValueError("not an event record")
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            if skipped is not None:
                skipped[0] += 1
            continue
        yield record
