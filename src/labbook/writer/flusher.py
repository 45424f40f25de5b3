"""The one flusher thread per process that drains every open ``RunWriter`` (labbook.writer.writer).

A run starts and stops no thread of its own: each writer joins this thread's set when it starts
and leaves it when it closes. Every writer and the thread share one condition (``_CONDITION``:
one lock, one wake-up); a forked child gets a fresh one and starts its own thread when one of its
writers first starts.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labbook.writer.writer import RunWriter

_CONDITION = threading.Condition()  # every writer's and the flusher's: one lock, one wake-up
# The longest the thread waits before it looks at its writers again: a writer added, or a
# periodic function registered, that is due later than this needs no wake-up (a run that starts
# and ends then costs the thread no switch).
POLL = 0.05


class _Flusher:
    """The one thread per process that drains every open ``RunWriter``: each at least every
    ``flush_interval`` seconds, at once when asked (``wake``; ``flush`` drains on its caller's
    thread, as ``queue_full`` writes a batch of metrics) or when its pending records pass half
    of ``max_pending``. A run starts and stops no thread of its own; a
    forked child gets its own flusher when one of its writers first starts."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.cond = _CONDITION
        self.writers: set[RunWriter] = set()
        self.thread = threading.Thread(target=self._loop, name="labbook-writer", daemon=True)
        self.thread.start()

    def add(self, writer: RunWriter) -> None:
        with self.cond:
            self.writers.add(writer)
            if writer.flush_interval < POLL:  # else the thread's next look (within POLL) is soon enough
                self.cond.notify_all()

    def _loop(self) -> None:
        cond = self.cond
        while True:
            with cond:
                while True:
                    now = time.monotonic()
                    free = [w for w in self.writers if not w._busy]  # busy: a flush() drains it
                    ready = [w for w in free if w._due(now)]
                    ticking = [w for w in free if w._periodic
                               and min(entry[0] for entry in w._periodic) <= now]
                    if ready or ticking:
                        break
                    soonest = min((w._next_time() for w in free), default=now + POLL)
                    cond.wait(max(0.0, min(soonest - now, POLL)))
                work = []
                for writer in ready:
                    work.append((writer, writer._requested))
                    writer._busy = True
                for writer in ticking:
                    writer._busy = True
            for writer in ticking:
                try:
                    writer._run_periodic(now)
                finally:
                    if writer not in ready:
                        with cond:
                            writer._busy = False
                            cond.notify_all()
            for writer, ticket in work:
                try:
                    writer._drain()
                finally:
                    writer._next_flush = time.monotonic() + writer.flush_interval
                    with cond:
                        writer._busy = False
                        writer._completed = max(writer._completed, ticket)
                        cond.notify_all()


_flushers: list[_Flusher] = []
_flusher_lock = threading.Lock()


def _after_fork_in_child() -> None:
    """A forked child starts with no flusher and fresh locks (the parent's thread is not there,
    and it may have held them at the fork); the writers it opens use these."""
    global _CONDITION, _flusher_lock
    _CONDITION = threading.Condition()
    _flusher_lock = threading.Lock()
    _flushers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def the_flusher() -> _Flusher:
    """This process's flusher, started on first use (again in a forked child)."""
    with _flusher_lock:
        if not _flushers or _flushers[0].pid != os.getpid() or not _flushers[0].thread.is_alive():
            _flushers[:] = [_Flusher()]
        return _flushers[0]
