"""Captured log files: their format and their readers (``labbook.capture.logs`` writes them).

::

    from labbook.store.logs import read_logs
    read_logs(run_path, tail=50)        # the last 50 lines, every process merged in time order

One JSON-lines file per process, ``logs/<writer id>.jsonl``: a header line
``{"format": "labbook.logs", "version": 1, ...}``, then one object per line with
``timestamp``, ``stream`` (stdout, stderr or logging), ``message`` and, when known, ``level``,
``logger`` and ``rank``. A torn last line is left for the next read.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from labbook.store.layout import LOG_DIR, RunFolder

LOG_FORMAT = "labbook.logs"
LOG_FORMAT_VERSION = 1
_MAX_PARTIAL = 1 << 16

__all__ = ["LOG_DIR", "LOG_FORMAT", "LOG_FORMAT_VERSION", "LogFollower", "LogLine", "follow_logs", "log_files", "read_logs"]


@dataclass(frozen=True)
class LogLine:
    """One captured line: ``stream`` is stdout, stderr or logging; ``level``/``logger`` when known."""

    timestamp: datetime
    stream: str
    message: str
    level: str | None = None
    logger: str | None = None
    rank: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogLine:
        return cls(datetime.fromisoformat(data["timestamp"]), data["stream"], data["message"],
                   data.get("level"), data.get("logger"), int(data.get("rank") or 0))

    def format(self, with_rank: bool = False) -> str:
        """``2026-11-23 04:38:50.123 [stderr WARNING root] text``, local time (rank when asked)."""
        stamp = self.timestamp.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        tags = [f"rank {self.rank}"] if with_rank else []
        tags.append(self.stream)
        if self.level:
            tags.append(self.level)
        if self.logger:
            tags.append(self.logger)
        return f"{stamp} [{' '.join(tags)}] {self.message}"



def log_files(run_path: str | os.PathLike[str]) -> list[Path]:
    folder = RunFolder(Path(run_path)).logs
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


def _parse_lines(chunk: bytes) -> list[dict[str, Any]]:
    records = []
    for raw in chunk.split(b"\n"):
        if raw:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if "message" in data:  # skips the header
                records.append(data)
    return records


def _complete_part(data: bytes) -> bytes:
    """``data`` up to its last newline: a torn last line is left for the next read."""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def _tail_bytes(path: Path, lines: int) -> bytes:
    """The end of ``path`` holding at least ``lines`` complete lines (or the whole file)."""
    block = 1 << 16
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        start, data = size, b""
        while start > 0 and data.count(b"\n") <= lines:
            start = max(0, start - block)
            handle.seek(start)
            data = handle.read(size - start)
            block *= 2
    return _complete_part(data)


def _merge(records: Iterable[dict[str, Any]], rank: int | None) -> list[LogLine]:
    chosen = [r for r in records if rank is None or int(r.get("rank") or 0) == rank]
    chosen.sort(key=lambda r: r["timestamp"])  # ISO UTC text sorts in time order; stable on ties
    return [LogLine.from_json(r) for r in chosen]


def read_logs(run_path: str | os.PathLike[str], tail: int | None = None,
              rank: int | None = None) -> list[LogLine]:
    """Every captured line of a run (every process merged in time order), or the last ``tail``."""
    records: list[dict[str, Any]] = []
    for path in log_files(run_path):
        data = _tail_bytes(path, tail) if tail is not None else _complete_part(path.read_bytes())
        records.extend(_parse_lines(data))
    lines = _merge(records, rank)
    return lines[-tail:] if tail is not None and tail > 0 else ([] if tail == 0 else lines)


class LogFollower:
    """Reads a run's captured lines as they come: ``start(tail)`` gives the last ``tail`` lines,
    each ``poll()`` the complete lines written since (every process's file, merged in time
    order). A caller that must not block between polls (the server's streamed follow) drives
    it itself; ``follow_logs`` is the blocking loop over it."""

    def __init__(self, run_path: str | os.PathLike[str], rank: int | None = None) -> None:
        self.run_path = run_path
        self.rank = rank
        self.offsets: dict[Path, int] = {}

    def start(self, tail: int | None = None) -> list[LogLine]:
        lines = read_logs(self.run_path, tail=tail, rank=self.rank)
        for path in log_files(self.run_path):
            self.offsets[path] = path.stat().st_size - len(_torn_tail(path))
        return lines

    def poll(self) -> list[LogLine]:
        fresh: list[dict[str, Any]] = []
        for path in log_files(self.run_path):
            start = self.offsets.get(path, 0)
            with open(path, "rb") as handle:
                handle.seek(start)
                data = _complete_part(handle.read())
            self.offsets[path] = start + len(data)
            fresh.extend(_parse_lines(data))
        return _merge(fresh, self.rank)


def follow_logs(run_path: str | os.PathLike[str], *, tail: int | None = None, rank: int | None = None,
                poll: float = 0.5, until: Callable[[], bool] | None = None,
                max_polls: int | None = None) -> Iterator[LogLine]:
    """Yield the last ``tail`` lines (all with None), then new lines as processes write them.

    Stops one poll after ``until()`` first returns True (for example: the run is no longer
    running; the extra poll picks up the last lines a process writes while it ends), or after
    ``max_polls``.
    """
    follower = LogFollower(run_path, rank)
    yield from follower.start(tail)
    polls, finished_before = 0, False
    while True:
        finished = finished_before or (until() if until is not None else False)
        yield from follower.poll()
        polls += 1
        if finished_before or (max_polls is not None and polls >= max_polls):
            return
        finished_before = finished
        time.sleep(poll)


def _torn_tail(path: Path) -> bytes:
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _MAX_PARTIAL))
        data = handle.read()
    end = data.rfind(b"\n")
    return data[end + 1:]
