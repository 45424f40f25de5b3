"""Liveness: knowing that a run's process is still there, and calling a run ``crashed`` when not.

Every process logging to a run keeps a heartbeat file, ``heartbeat/<writer id>.json`` in the run
folder, whose modification time the process's one flusher thread (``RunWriter.every``) refreshes
every ``heartbeat_interval`` seconds (10 s by default, ``LABBOOK_HEARTBEAT_INTERVAL``). Rank 0
also copies the time into run.json's ``heartbeat_at`` (and so into the catalog) at the same pace.

A run whose run.json still says ``running`` but whose newest heartbeat is older than the crash
timeout is reported as ``crashed`` by the read API, the CLI and the server; the rule is
``labbook.store.liveness`` (``crash_timeout`` is 60 s by default, ``LABBOOK_CRASH_TIMEOUT``).
The status in run.json is left as it is, so ``tracking.init(run_uuid=...)`` resumes a crashed
run like any other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from labbook._time import utc_now_iso
from labbook.store.layout import RunFolder
from labbook.store.liveness import crash_timeout, last_heartbeat, reported_status  # noqa: F401 - the readers' rule

if TYPE_CHECKING:
    from labbook.writer.surface import RunParts


_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


_host: list[str] = []


def hostname() -> str:
    """This machine's name, as ``socket.gethostname()`` gives it, read once per process: a run
    records it in its heartbeat, its log, its resource samples and its environment, and each
    read is a system call that lets the process's other threads take the interpreter (without
    importing socket, a cost a run's start need not pay, where ``os.uname`` exists)."""
    if not _host:
        uname = getattr(os, "uname", None)
        if uname is not None:
            _host.append(uname().nodename)
        else:
            import socket

            _host.append(socket.gethostname())
    return _host[0]


def heartbeat_dir(run_path: str | os.PathLike[str]) -> Path:
    return RunFolder(Path(run_path)).heartbeat


class Heartbeat:
    """Keeps one process's heartbeat file fresh, every ``interval`` seconds, from the run
    writer's flusher thread (``RunWriter.every``): no thread of its own per run."""

    def __init__(self, parts: RunParts, interval: float) -> None:
        self._parts = parts
        self.interval = float(interval)
        self.path = heartbeat_dir(parts.path) / f"{parts.writer_id}.json"
        self._handle: list | None = None

    def start(self, recorded: bool = False) -> None:
        """Write the heartbeat file and start refreshing it; ``recorded``: run.json already
        holds this interval and a fresh ``heartbeat_at`` (else rank 0 records them now)."""
        content = orjson.dumps({
            "pid": os.getpid(), "host": hostname(), "rank": self._parts.rank,
            "writer": self._parts.writer_id, "interval": self.interval,
        })
        try:
            os.mkdir(self.path.parent)  # a new run's first writer: no heartbeat folder yet
        except FileExistsError:
            pass
        except FileNotFoundError:  # the run folder itself was removed: made again
            self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, _O_NEW, 0o644)
        try:
            os.write(fd, content)  # a few dozen bytes: one write (os.open: no buffered file object)
        finally:
            os.close(fd)
        if self._parts.rank == 0 and not recorded:
            self._parts.writer.update_run(
                ("set", "liveness", {"heartbeat_interval": self.interval}), self._beat_op())
        self._handle = self._parts.writer.every(self.interval, self.beat)

    def _beat_op(self) -> tuple:
        return ("set", "heartbeat_at", utc_now_iso())

    def beat(self) -> None:
        try:
            os.utime(self.path)
        except FileNotFoundError:  # the folder was cleaned under us: say we are alive again
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError:
            return
        if self._parts.rank == 0:
            self._parts.writer.update_run(self._beat_op())

    def stop(self) -> None:
        if self._handle is not None:
            self._parts.writer.cancel(self._handle)
            self._handle = None
