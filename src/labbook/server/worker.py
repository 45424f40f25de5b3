"""Background work for a server on an object store: ``labbook server --role worker``.

Jobs are rows of the catalog's ``jobs`` table; there is no queue server. A worker claims the
oldest pending job with ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL: workers never wait on
each other) and a compare-and-set of its ``state`` (which alone suffices on SQLite), so each job
runs once. A job whose worker died is claimed again after ``LEASE`` seconds; one that fails is
retried up to ``MAX_ATTEMPTS`` times, then left ``failed`` with its error.

Job kinds: ``compact`` (target ``metric/<name>``): compact a metric series
(``labbook.server.compact.compact_series``). ``enqueue_compaction`` is what ingest calls when a run
ends (or its series grew a lot)::

    enqueue_compaction(store, run_uuid)           # every metric series of the run
    Worker(store).run_until_idle()                 # what `labbook server --role worker --once` does

Garbage (``collect_garbage``, when a worker starts and every ``GARBAGE_EVERY`` seconds, and by
``--once``): what no run needs any more. On a SQLite catalog, the run lock files
(``labbook.server.run_locks``) not used for ``LOCK_IDLE`` seconds and free (a run's file goes
when it ends; this takes those of runs written again after that); and the merge bases
(``bases/<run>``) of runs the store no longer holds. Any number of workers may collect at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.catalog.chunks import ChunkedFiles, check_run

LEASE = 600.0  # seconds before a running job whose worker went silent is claimed again
GARBAGE_EVERY = 3600.0  # seconds between two garbage collections of a worker
LOCK_IDLE = 3600.0  # a run lock file untouched this long, and free, is removed
MAX_ATTEMPTS = 3
log = logging.getLogger("labbook.worker")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def enqueue(engine: sa.Engine, kind: str, run_uuid: str, target: str) -> bool:
    """Add a job unless the same one is already pending; True when added."""
    J = schema.jobs
    with engine.begin() as conn:
        waiting = conn.execute(sa.select(J.c.id).where(J.c.kind == kind, J.c.run_uuid == run_uuid,
                                                       J.c.target == target, J.c.state == "pending")).first()
        if waiting is not None:
            return False
        conn.execute(J.insert().values(kind=kind, run_uuid=run_uuid, target=target, state="pending", attempts=0,
                                       created_at=_now()))
    return True


def enqueue_compaction(store: ChunkedFiles, run_uuid: str, names: list[str] | None = None) -> int:
    """Queue the compaction of ``names`` (default: every metric series of the run); returns how many."""
    from labbook.server.compact import metric_names

    run_uuid = check_run(run_uuid)
    names = metric_names(store.files(run_uuid)) if names is None else names
    return sum(enqueue(store.engine, "compact", run_uuid, f"metric/{name}") for name in names)


class Worker:
    """Claims and runs jobs against one store and catalog."""

    def __init__(self, store: ChunkedFiles, worker_id: str | None = None) -> None:
        self.store = store
        self.engine = store.engine
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"

    def claim(self) -> Any | None:
        """The next job, now marked running by this worker (None when there is none)."""
        J = schema.jobs
        now = _now()
        claimable = sa.or_(J.c.state == "pending",
                           sa.and_(J.c.state == "running", J.c.claimed_at < now - timedelta(seconds=LEASE)))
        for _ in range(16):
            with self.engine.begin() as conn:
                job_id = conn.execute(sa.select(J.c.id).where(claimable).order_by(J.c.id).limit(1)
                                      .with_for_update(skip_locked=True)).scalar()
                if job_id is None:
                    return None
                moved = conn.execute(J.update().where(J.c.id == job_id, claimable)
                                     .values(state="running", claimed_by=self.id, claimed_at=now,
                                             attempts=J.c.attempts + 1)).rowcount
                if moved == 1:
                    return conn.execute(sa.select(J).where(J.c.id == job_id)).first()
            # another worker took it between our select and update (SQLite): look again
        return None

    def _finish(self, job: Any, error: str | None) -> None:
        J = schema.jobs
        if error is None:
            values = {"state": "done", "finished_at": _now(), "error": None}
        elif job.attempts >= MAX_ATTEMPTS:
            values = {"state": "failed", "finished_at": _now(), "error": error}
        else:
            values = {"state": "pending", "error": error}
        with self.engine.begin() as conn:  # only if the job is still ours (its lease not taken over)
            conn.execute(J.update().where(J.c.id == job.id, J.c.claimed_by == self.id, J.c.state == "running")
                         .values(**values))

    def run_job(self, job: Any) -> None:
        from labbook.server.compact import compact_series

        if job.kind == "compact" and job.target.startswith("metric/"):
            compact_series(self.store, job.run_uuid, job.target[len("metric/"):])
        else:
            from labbook.errors import InvalidValueError

            raise InvalidValueError(f"Job {job.id} has kind {job.kind!r} with target {job.target!r}, which this "
                                    "worker does not know. Upgrade labbook on the worker to the servers' version.")

    def run_one(self) -> Any | None:
        """Claim and run one job; returns it (None when the queue was empty)."""
        job = self.claim()
        if job is None:
            return None
        try:
            self.run_job(job)
        except Exception as error:  # noqa: BLE001 - recorded on the job, retried, never fatal to the worker
            log.exception("job %s (%s %s) failed", job.id, job.kind, job.target)
            self._finish(job, f"{type(error).__name__}: {error}")
        else:
            self._finish(job, None)
        return job

    def run_until_idle(self) -> list[Any]:
        """Run jobs until none is left; returns those run."""
        done = []
        while (job := self.run_one()) is not None:
            done.append(job)
        return done

    def run_forever(self, stop: threading.Event, poll: float = 1.0) -> None:
        collected = None
        while not stop.is_set():
            if collected is None or time.monotonic() - collected >= GARBAGE_EVERY:
                self._collect_logged()
                collected = time.monotonic()
            if self.run_one() is None:
                stop.wait(poll)

    def _collect_logged(self) -> None:
        try:
            removed = self.collect_garbage()
        except Exception:  # noqa: BLE001 - garbage waits for the next round, jobs go on
            log.exception("garbage collection failed")
        else:
            if any(removed.values()):
                log.info("garbage: removed %s", removed)

    def collect_garbage(self, lock_idle: float = LOCK_IDLE) -> dict[str, int]:
        """Remove what no run needs any more (see the module docstring): how many of each."""
        from labbook.server.run_locks import FileLocks, lock_folder

        folder = lock_folder(self.engine)
        return {"lock_files": FileLocks(folder).sweep(lock_idle) if folder is not None else 0,
                "bases": self._sweep_bases()}

    def _sweep_bases(self) -> int:
        """Delete the merge bases of runs the store holds no file of (deleted runs)."""
        try:
            keys = self.store.fs.ls(self.store.object_path("bases"), detail=False, refresh=True)
        except FileNotFoundError:
            return 0
        found = {str(key).rstrip("/").rsplit("/", 1)[-1]: str(key) for key in keys}
        F = schema.stored_files
        held: set[str] = set()
        names = sorted(found)
        with self.engine.connect() as conn:
            for start in range(0, len(names), 500):
                batch = names[start:start + 500]
                held.update(conn.execute(sa.select(F.c.run_uuid).where(F.c.run_uuid.in_(batch)).distinct()).scalars())
        gone = [uuid for uuid in names if uuid not in held]
        for uuid in gone:
            self.store.delete_object(found[uuid])
        return len(gone)
