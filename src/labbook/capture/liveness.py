"""Liveness: knowing that a run's process is still there, and calling a run ``crashed`` when not.

Every process logging to a run keeps a heartbeat file, ``heartbeat/<writer id>.json`` in the run
folder, whose modification time a daemon thread refreshes every ``heartbeat_interval`` seconds
(10 s by default, ``LABBOOK_HEARTBEAT_INTERVAL``). Rank 0 also copies the time into run.json's
``heartbeat_at`` (and so into the catalog) at the same pace.

A run whose run.json still says ``running`` but whose newest heartbeat is older than the crash
timeout is reported as ``crashed`` by the read API, the CLI and the server::

    timeout = max(crash_timeout, 3 * heartbeat_interval of the writing process)

``crash_timeout`` is 60 s by default (``LABBOOK_CRASH_TIMEOUT``). The status in run.json is left
as it is, so ``tracking.init(run_uuid=...)`` resumes a crashed run like any other.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

HEARTBEAT_DIR = "heartbeat"
_MISSED_BEATS = 3  # never call a run crashed sooner than this many of its own heartbeat intervals


def heartbeat_dir(run_path: str | os.PathLike[str]) -> Path:
    return Path(run_path) / HEARTBEAT_DIR


def last_heartbeat(record: dict[str, Any]) -> float | None:
    """Newest heartbeat of a run as epoch seconds: its heartbeat files, else ``heartbeat_at``."""
    newest: float | None = None
    path = record.get("path")
    if path:
        try:
            with os.scandir(heartbeat_dir(path)) as entries:
                for entry in entries:
                    try:
                        mtime = entry.stat().st_mtime
                    except OSError:
                        continue
                    newest = mtime if newest is None else max(newest, mtime)
        except OSError:
            pass
    stamp = record.get("heartbeat_at")
    if stamp is not None:
        if not isinstance(stamp, datetime):
            stamp = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        if stamp.tzinfo is None:  # the catalog may hand back naive UTC
            stamp = stamp.replace(tzinfo=timezone.utc)
        moment = stamp.timestamp()
        newest = moment if newest is None else max(newest, moment)
    return newest


def crash_timeout(record: dict[str, Any], settings: Any = None) -> float:
    """Seconds without a heartbeat after which a running run is reported ``crashed``."""
    if settings is None:
        from labbook.config import Settings

        settings = Settings.load({})
    interval = (record.get("liveness") or {}).get("heartbeat_interval") or 0
    return max(float(settings.crash_timeout), _MISSED_BEATS * float(interval))


def reported_status(record: dict[str, Any], now: float | None = None, settings: Any = None) -> str:
    """``record``'s status, or ``crashed`` for a ``running`` run whose heartbeat went stale.

    ``record`` is run.json's content (with ``path``) or a catalog row::

        reported_status({"status": "running", "path": "/runs/p/3f2c...", ...})  # 'crashed'
    """
    status = record.get("status") or "created"
    if status != "running":
        return status
    last = last_heartbeat(record)
    if last is None:  # written before heartbeats existed, or by hand: nothing to judge by
        return status
    now = time.time() if now is None else now
    return "crashed" if now - last > crash_timeout(record, settings) else status


class Heartbeat:
    """Keeps one process's heartbeat file fresh, every ``interval`` seconds, from the run
    writer's flusher thread (``RunWriter.every``): no thread of its own per run."""

    def __init__(self, run: Any, interval: float) -> None:
        self._run = run
        self.interval = float(interval)
        self.path = heartbeat_dir(run.path) / f"{run.writer_id}.json"
        self._handle: list | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(orjson.dumps({
            "pid": os.getpid(), "host": socket.gethostname(), "rank": self._run.rank,
            "writer": self._run.writer_id, "interval": self.interval,
        }))
        if self._run.rank == 0:
            self._run._writer.update_run(
                ("set", "liveness", {"heartbeat_interval": self.interval}), self._beat_op())
        self._handle = self._run._writer.every(self.interval, self.beat)

    def _beat_op(self) -> tuple:
        return ("set", "heartbeat_at", datetime.now(timezone.utc).isoformat(timespec="microseconds"))

    def beat(self) -> None:
        try:
            os.utime(self.path)
        except FileNotFoundError:  # the folder was cleaned under us: say we are alive again
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError:
            return
        if self._run.rank == 0:
            self._run._writer.update_run(self._beat_op())

    def stop(self) -> None:
        if self._handle is not None:
            self._run._writer.cancel(self._handle)
            self._handle = None
