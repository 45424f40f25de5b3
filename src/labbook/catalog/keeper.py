"""The one indexer thread per process, and its passes: which runs are due, and writing them.

Each live run's ``RunIndexer`` asks to be indexed (``Keeper.request``) at most every index
interval; the thread wakes when the earliest request is due and indexes every run due then in
one pass. The runs of one pass that write to one ``SqliteIndex`` go in one transaction (at most
``BATCH_RUNS``), and their markers are removed only once it is committed (``index_together``).
``finish_pending()`` writes what is still due on the caller's thread, once the thread's pass in
flight has committed. A forked child starts its own thread at its first run.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any, Callable, Protocol

# Seconds finish() waits for the thread's pass in flight; past it, that pass's runs stay marked
# (readers index them from their folders) and what is still due is written without it.
FINISH_WAIT = 5.0
BATCH_RUNS = 500  # runs indexed in one transaction at most (other writers wait for its commit)


class Indexed(Protocol):
    """What the thread indexes: a ``labbook.catalog.indexer.RunIndexer``."""

    errors: list[str]

    def rows(self) -> Any: ...

    def index_now(self, background: bool = False, after: list[Callable[[], None]] | None = None) -> None: ...


class Keeper:
    """The one thread per process that keeps live runs' catalog entries current: each run asks
    (``RunIndexer.request``) and is indexed at most every ``interval`` seconds; requests within
    the interval are folded into the next pass. No thread is started or stopped per run."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.due: dict[Indexed, float] = {}
        self.cond = threading.Condition()
        # When the thread's current wait ends (-inf while it is not waiting: it reads ``due``
        # before it waits again). A request due no sooner needs no wake-up: a run that starts
        # and ends within an interval costs the thread no switch.
        self.wake_at = -math.inf
        # Held through each pass, the thread's and finish()'s: a run the thread has taken from
        # ``due`` is not there any more, so finish() waits for that pass to commit first.
        self.passing = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="labbook-indexer", daemon=True)
        self.thread.start()

    def request(self, indexer: Indexed, at: float) -> None:
        with self.cond:
            due = self.due.get(indexer)
            if due is None or at < due:
                self.due[indexer] = at
                if at < self.wake_at:
                    self.cond.notify()

    def finish(self) -> None:
        """Index every run still due, now, on the calling thread (at exit); returns once every
        row owed so far is written, the thread's pass in flight included, waiting at most
        ``FINISH_WAIT`` seconds for that pass (past it, its runs stay marked for readers)."""
        waited = self.passing.acquire(timeout=FINISH_WAIT)  # bounded: an exit never hangs on the index
        try:
            with self.cond:
                due, self.due = list(self.due), {}
            index_together(due)
        finally:
            if waited:
                self.passing.release()

    def forget(self, indexer: Indexed) -> None:
        with self.cond:
            self.due.pop(indexer, None)

    def _loop(self) -> None:
        while True:
            with self.cond:
                while not self._ready():
                    now = time.monotonic()
                    wait = max(min(self.due.values(), default=now + 60) - now, 0.001)
                    self.wake_at = now + wait
                    self.cond.wait(wait)
                    self.wake_at = -math.inf
            with self.passing:  # the runs leave ``due`` only inside the pass that indexes them
                with self.cond:
                    now = time.monotonic()
                    ready = [indexer for indexer, at in self.due.items() if at <= now]
                    for indexer in ready:
                        del self.due[indexer]
                try:
                    index_together(ready)
                except Exception as error:  # noqa: BLE001 - the one thread of the process never dies:
                    for indexer in ready:  # those runs stay marked, and readers index them
                        indexer.errors.append(f"{type(error).__name__}: {error}")

    def _ready(self) -> bool:
        now = time.monotonic()
        return any(at <= now for at in self.due.values())


def index_together(indexers: list[Indexed]) -> None:
    """Index the runs due in one pass of the indexer thread: those writing to one ``SqliteIndex``
    in one transaction (``SqliteIndex.transaction``), and their markers removed once it is
    committed, so a run is never unmarked before its row is on disk."""
    groups: dict[int, tuple[Any, list[Indexed]]] = {}
    for indexer in indexers:
        try:
            rows = indexer.rows()
        except Exception as error:  # noqa: BLE001 - no catalog to write to (a full disk, say):
            indexer.errors.append(f"{type(error).__name__}: {error}")  # reported, the run marked,
            indexer.index_now(background=True)  # and tried once more alone
            continue
        groups.setdefault(id(rows), (rows, []))[1].append(indexer)
    for rows, whole in groups.values():
        transaction = getattr(rows, "transaction", None)
        if transaction is None or len(whole) == 1:
            for indexer in whole:
                indexer.index_now(background=True)
            continue
        for start in range(0, len(whole), BATCH_RUNS):
            _index_batch(transaction, whole[start:start + BATCH_RUNS])


def _index_batch(transaction: Callable[[], Any], group: list[Indexed]) -> None:
    unmark: list[Callable[[], None]] = []
    try:
        with transaction():
            for indexer in group:
                indexer.index_now(background=True, after=unmark)
    except Exception as error:  # noqa: BLE001 - the markers stay: readers index those runs
        for indexer in group:
            indexer.errors.append(f"{type(error).__name__}: {error}")
        return
    for function in unmark:
        function()


_keeper: list[Keeper] = []
_keeper_lock = threading.Lock()


def _forked_child() -> None:
    """A forked child gets a fresh lock: the parent's indexer thread, which is not in the child,
    may have held it at the fork."""
    global _keeper_lock
    _keeper_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def the_keeper(on_start: Callable[[], None]) -> Keeper:
    """This process's keeper, started at the first call (in a forked child too); ``on_start``
    is called when it starts (the exit hook that writes what is still due)."""
    with _keeper_lock:  # not the indexer's open lock, which the thread may hold while it creates a catalog
        if not _keeper or _keeper[0].pid != os.getpid():  # a forked child starts its own
            _keeper[:] = [Keeper()]
            on_start()
        return _keeper[0]


def forget(indexer: Indexed) -> None:
    """Drop ``indexer``'s request, if this process's keeper has one."""
    if _keeper:
        _keeper[0].forget(indexer)


def finish_pending() -> None:
    """Write the rows this process still owes the catalog (its runs' last changes), now."""
    if _keeper and _keeper[0].pid == os.getpid():
        _keeper[0].finish()


