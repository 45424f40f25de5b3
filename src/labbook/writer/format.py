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

Files are append-only and have exactly one writer each.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson

FORMAT_NAME = "labbook.events"
FORMAT_VERSION = 1
RECORD_SIZE = 24
NO_STEP = -(2**63)  # marks a record logged without a step, in binary files only
_UTC = timezone.utc


def header_bytes(kind: str, name: str, writer_id: str, **extra: Any) -> bytes:
    header = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "kind": kind, "name": name,
              "writer": writer_id, **extra}
    return orjson.dumps(header) + b"\n"


def read_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        line = handle.readline()
    if not line.endswith(b"\n"):
        raise ValueError(f"{path} has no complete header line")
    header = orjson.loads(line)
    if header.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a labbook event file")
    if header.get("version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses event format version {header['version']}; this labbook reads up to "
            f"{FORMAT_VERSION}. Upgrade labbook."
        )
    return header


def iso(epoch_us: int) -> str:
    """ISO 8601 text, UTC, microseconds, for a µs-since-epoch timestamp."""
    return datetime.fromtimestamp(epoch_us / 1e6, tz=_UTC).isoformat(timespec="microseconds")


def to_epoch_us(timestamp: datetime | str | float | int | None) -> int:
    """Microseconds since the epoch for any timestamp a user may pass (None means now)."""
    import time

    if timestamp is None:
        return time.time_ns() // 1000
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if isinstance(timestamp, datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.astimezone()  # naive means local time, as datetime.now() gives
        return round(timestamp.timestamp() * 1e6)
    if isinstance(timestamp, (int, float)) and math.isfinite(timestamp):
        return round(float(timestamp) * 1e6)  # seconds since the epoch, as time.time() gives
    from labbook.errors import InvalidValueError

    raise InvalidValueError(
        f"timestamp {timestamp!r} is not a datetime, an ISO string or seconds since the epoch."
    )


# -- metric files ----------------------------------------------------------------------------


def metric_dtype():
    import numpy as np

    return np.dtype([("step", "<i8"), ("timestamp", "<i8"), ("value", "<f8")])


def encode_metric_records(steps: list[int], times_us: list[int], values: list[float]) -> bytes:
    import numpy as np

    records = np.empty(len(values), dtype=metric_dtype())
    records["step"] = steps
    records["timestamp"] = times_us
    records["value"] = values
    return records.tobytes()


def encode_metric_record(step: int, time_us: int, value: float) -> bytes:
    """One record, the same bytes as above, without numpy (for writers that log rarely)."""
    import struct

    return struct.pack("<qqd", step, time_us, value)


def read_metric_file(path: Path):
    """Records of one metric file as a numpy structured array; a torn tail is dropped."""
    import numpy as np

    data = path.read_bytes()
    start = data.find(b"\n") + 1
    if start == 0:  # the header itself was torn
        return np.empty(0, dtype=metric_dtype())
    count = (len(data) - start) // RECORD_SIZE
    return np.frombuffer(data, dtype=metric_dtype(), count=count, offset=start)


# -- JSON-lines files ------------------------------------------------------------------------


def encode_json_record(step: int | None, time_us: int, value: Any) -> bytes:
    return orjson.dumps(
        {"step": step, "timestamp": iso(time_us), "value": value},
        option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE,
    )


def iter_json_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of one JSON-lines file, in order; the header and a torn last line are skipped."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    # the last element is b"" after a complete file, or a torn line: skip it either way
    for line in lines[1:-1]:
        if line:
            yield orjson.loads(line)
