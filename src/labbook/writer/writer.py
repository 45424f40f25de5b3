"""The run writer: takes logged records on the caller's thread and writes them to the run folder.

The caller's side is one ``list.extend`` (atomic under the GIL) of a record of four entries
(one per ``log_metric``, one per ``log_metrics`` call) onto a flat queue. The process's one
flusher thread (``_Flusher``, shared by every open writer) takes what is pending at least every
``flush_interval`` seconds, encodes it (``struct``, orjson; no numpy) and appends it to the
series files; ``flush()`` does the same on its caller's thread, and so does the logging call
that completes a batch of ``DRAIN_BATCH`` points (``queue_full``: metrics only). Past
``max_pending`` queue entries the caller waits for the writer to catch up (back-pressure), which
is the documented policy. docs/architecture.md ("Writing") says why.

Nothing is lost without a count, and no file is left damaged:

* A write that fails (a full disk) cuts the file back to its last whole record; what was not
  written stays in the series' backlog and is retried at every flush until the disk has room
  (``max_pending`` records at most; beyond that records are dropped and counted). Meanwhile
  ``write_failure`` says why, and the run raises it at the next logging call and from ``flush()``.
* One record the writer cannot encode (checked on the caller's thread already, so this is a
  last line of defence) is left out alone, counted, and reported once (``record_failure``).
* Every record left out is counted in ``dropped`` (reason -> count and a first message), which
  is merged into run.json ``dropped.<writer id>``.

A writer can start without its thread (``start=False``): a forked child's writer starts it when
the child first logs, so a child that never logs costs nothing and writes nothing.
"""

from __future__ import annotations

import errno
import math
import os
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from labbook.config import Settings
from labbook.errors import InvalidValueError, LabbookError, PathEscapeError, WriteError
from labbook.store import format as fmt
from labbook.store.layout import RunFolder
from labbook.store.runfile import Op, update_run_file, write_atomic
from labbook.writer import flusher as _flushing
from labbook.writer.columns import (  # the column packer (RECORD_WIDTH, _period: imported from here too)
    _FOURTH,
    _UNPACKABLE,
    RECORD_WIDTH,
    _group_columns,
    _pack_position,
    _packed,
    _period,
    _records,
    _split_rows,
    _summary_of,
)
from labbook.writer.flusher import _Flusher

DEFAULT_FLUSH_INTERVAL = Settings.flush_interval  # the settings' defaults: config.py owns them
DEFAULT_MAX_PENDING = Settings.max_pending
# Queued metric points that start a drain before flush_interval is up (queue_full), and the
# most records one encoding step takes: a queued point holds ~100 bytes, a written one 24.
DRAIN_BATCH = 8192
# O_NOFOLLOW: a link planted where an event file goes is never written through.
_O_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def loss_reason(error: BaseException) -> str:
    """The ``dropped`` reason for a record lost to ``error``: an I/O error (one with an errno),
    or a value that could not be encoded (any other error, such as PIL's unreadable image)."""
    code = getattr(error, "errno", None) if isinstance(error, OSError) else None
    if code is None:
        return "invalid_value"
    return "disk_full" if code in (errno.ENOSPC, errno.EDQUOT) else "write_error"


class Series:
    """One (kind, name) series as written by this process.

    ``size`` is where the file's last whole record ends; ``backlog`` holds encoded records that
    could not be written yet, oldest first, and ``backlog_records`` how many there are; for a
    metric, ``backlog_stats`` what they add to its summary (see ``RunWriter._summarise``).
    """

    __slots__ = ("id", "kind", "name", "path", "started", "next_step", "summary", "size", "backlog",
                 "backlog_records", "backlog_stats", "make_dirs")

    def __init__(self, kind: str, name: str | None, path: Path, id: int = -1,
                 make_dirs: Callable[[Path], Any] | None = None) -> None:
        self.id = id  # index in the writer's series list; what queued metric records carry
        self.kind = kind
        self.name = name  # None: a file of several series, its header has none (a resources file)
        self.path = path
        self.started = False
        self.next_step = 0
        self.summary: dict[str, Any] | None = None
        self.size = 0
        self.backlog: list[bytes] = []
        self.backlog_records = 0
        self.backlog_stats: list[tuple] = []  # metrics: what the summary gains once written
        # The run folder's make_dirs: creates the series' folders through no symbolic link.
        self.make_dirs = make_dirs or (lambda folder: folder.mkdir(parents=True, exist_ok=True))

    def append(self, payload: bytes, writer_id: str, header_extra: dict[str, Any]) -> None:
        """Append whole records. On failure the file is cut back to where it was, so it always
        ends on a whole record, and the ``OSError`` is raised for the caller to keep ``payload``."""
        data = payload
        if not self.started:
            try:
                self.make_dirs(self.path.parent)
            except PathEscapeError as error:  # a link where a folder goes: kept pending, reported
                raise OSError(errno.ELOOP, str(error), str(self.path.parent)) from None
            data = fmt.header_bytes(self.kind, self.name, writer_id, **header_extra) + payload
        fd = os.open(self.path, _O_APPEND, 0o644)
        try:
            view, written = memoryview(data), 0
            while written < len(data):
                written += os.write(fd, view[written:])
        except OSError:
            self._cut_back(fd)
            raise
        finally:
            os.close(fd)
        self.started = True
        self.size += len(data)

    def _cut_back(self, fd: int) -> None:
        try:
            os.ftruncate(fd, self.size)  # shrinking needs no space, even on a full disk
            if self.size == 0:  # nothing of ours was there: leave no empty file behind
                os.unlink(self.path)
                os.rmdir(self.path.parent)
        except OSError:
            pass

    def fsync(self) -> None:
        if self.started:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class RunWriter:
    """Background writer for one process's share of one run."""

    def __init__(
        self,
        folder: RunFolder,
        writer_id: str,
        *,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_pending: int = DEFAULT_MAX_PENDING,
        header_extra: dict[str, Any] | None = None,
        after_flush: Callable[[bool], None] | None = None,
        on_failure: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None,
        start: bool = True,
    ) -> None:
        self.folder = folder
        self.writer_id = writer_id
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.header_extra = header_extra or {}
        self.after_flush = after_flush
        self.on_failure = on_failure  # called on the writer thread when a failure is first seen
        self.on_start = on_start  # called once, when the thread starts
        # pending records: metrics, flat, four entries each (see _drain_metrics): metric id,
        # step or None, epoch µs, value, or for one log_metrics call metric ids, step or None,
        # epoch µs, values; events (Series, step or None, epoch µs, JSON value)
        self.metrics: list[Any] = []
        self.drain_mark = 0  # the queue length at which log_metric calls queue_full()
        self.events: list[tuple] = []
        self.tasks: list[Callable[[], None]] = []
        self.run_ops: list[Op] = []
        self._series: dict[tuple[str, str], Series] = {}
        self._by_id: list[Series] = []
        self._flusher: _Flusher | None = None
        self._cond = _flushing._CONDITION  # shared with the process's flusher thread (see _Flusher)
        self._start_lock = threading.Lock()
        self._next_flush = 0.0
        self._busy = False  # being drained by the flusher thread
        # The flusher runs tasks or periodic functions (a capture, a resource sample), not the
        # queues: a logging call may write a batch of metrics meanwhile (queue_full), each
        # metric drain holding _metrics_lock.
        self._in_tasks = False
        self._metrics_lock = threading.Lock()
        self._record_points = 1  # points per queued metric record, as the last drain found
        self._set_drain_mark()
        self._periodic: list[list] = []  # [next time, interval, function]: see every()
        self._requested = 0
        self._completed = 0
        self._closing = False
        self._closed = False
        self.errors: list[str] = []
        # what was left out, and why: reason -> [count, first message]
        self.dropped: dict[str, list] = {}
        self._drop_lock = threading.Lock()
        self._dropped_due = False
        self.write_failure: WriteError | None = None  # lasts until a drain writes everything
        self.record_failure: LabbookError | None = None  # reported once
        self._backlog_records = 0
        self._summaries_due = False
        self._thread: threading.Thread | None = None
        if start:
            self._start()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            flusher = _flushing.the_flusher()
            self._cond = flusher.cond
            self._next_flush = time.monotonic() + self.flush_interval
            flusher.add(self)
            self._flusher = flusher
            self._thread = flusher.thread
        if self.on_start is not None:
            self.on_start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    # -- caller's side -------------------------------------------------------------------

    def series(self, kind: str, name: str) -> Series:
        if self._thread is None:
            self._start()
        key = (kind, name)
        series = self._series.get(key)
        if series is None:
            path = self.folder.series_file(kind, name, self.writer_id)
            series = self._series[key] = Series(kind, name, path, len(self._by_id), self.folder.make_dirs)
            self._by_id.append(series)
        return series

    def metric_id(self, name: str) -> int:
        """The int that stands for metric ``name`` in queued records. Records of plain values
        (no object references) are untracked by Python's garbage collector after its first pass,
        which halves the cost of a logging call when a second's worth of records is pending."""
        return self.series("metric", name).id

    def wake(self) -> None:
        """Ask the writer thread for a drain now, without waiting for it."""
        if self._thread is None:
            self._start()
        with self._cond:
            self._requested += 1
            self._cond.notify_all()

    def submit(self, task: Callable[[], None]) -> None:
        """Run ``task`` on the writer thread, in order with the records around it."""
        if self._thread is None:
            self._start()
        self.tasks.append(task)

    def update_run(self, *ops: Op) -> None:
        if self._thread is None:
            self._start()
        self.run_ops.extend(ops)

    def queue_full(self) -> None:
        """Called by the logging hot path when the metric queue is longer than ``drain_mark``
        (a batch, ``DRAIN_BATCH`` points, more than the last drain left): past ``max_pending``
        entries it waits (back-pressure); below, it writes the queued metrics itself, unless
        the flusher is draining this writer now (while the flusher runs a task or a periodic
        function, such as a run's environment capture or first resource probe, it does write
        them: ``_metrics_lock`` keeps two metric drains apart). A caller that logs a batch within one flush
        interval is busy in Python: the flusher thread would take the same time from it under
        the interpreter lock, plus two thread switches per batch (each a scheduling delay on a
        busy machine), and the queue would grow meanwhile. A caller that logs less never gets
        here: the flusher writes everything, off its thread, every flush interval."""
        if len(self.metrics) > self.max_pending:
            self.backpressure()
        elif self._thread is not None and not self._closing:
            with self._cond:
                claimed = not self._busy  # else the flusher is draining: it takes these too
                self._busy = True
            if claimed:
                try:
                    self._drain_batch()
                finally:
                    with self._cond:
                        self._busy = False
                        self._cond.notify_all()
            elif self._in_tasks:  # the flusher runs a task (seconds of capture, say): write the batch
                self._drain_batch(wait=False)
        self._set_drain_mark()  # not again before one more batch, or a drain took these

    def expect_points(self, points: int) -> None:
        """Called when ``log_metrics`` first queues a row of ``points`` metrics: until a drain
        has seen one, the batch that ``queue_full`` writes counts them (one row, ``points``
        points), so a first batch is no larger than the next ones."""
        if points > self._record_points:
            self._record_points = points
            self._set_drain_mark()

    def _set_drain_mark(self) -> None:
        # a batch counts points (a log_metrics record holds one per metric), within 4x: a drain
        # costs a write per series
        batch = max(DRAIN_BATCH // self._record_points, DRAIN_BATCH // 4)
        self.drain_mark = min(len(self.metrics) + batch * RECORD_WIDTH, self.max_pending)

    def backpressure(self) -> None:
        """Block until the pending records fit under ``max_pending`` again (a writer that cannot
        write moves them to its bounded backlog, dropping and counting what does not fit)."""
        while len(self.metrics) + len(self.events) > self.max_pending and self._alive():
            self.flush(check=False)

    def flush(self, fsync: bool = False, check: bool = True) -> None:
        """Return once everything logged before this call is written to the OS.

        With ``check``, a failure is raised rather than returning as if all were written: the
        ``WriteError`` of records still pending (they are retried) or the one record left out.
        """
        if not self._closed:
            if not self._alive() or threading.current_thread() is self._thread:
                self._drain(fsync)  # no flusher, or called from a task or periodic function
            else:
                self._drain_here(fsync)
        if check:
            self.check()

    def _drain_here(self, fsync: bool) -> None:
        """``flush``'s drain, on the caller's thread: it waits for it anyway, and handing the
        work to the flusher thread and the result back would cost two thread switches (each a
        scheduling delay on a busy machine). It waits while the flusher drains this writer."""
        with self._cond:
            while self._busy and self._alive():
                self._cond.wait(0.1)
            self._busy = True  # the flusher leaves this writer alone meanwhile (_Flusher._loop)
            ticket = self._requested
        try:
            self._drain(fsync)
        finally:
            with self._cond:
                self._busy = False
                self._completed = max(self._completed, ticket)
                self._next_flush = time.monotonic() + self.flush_interval
                self._cond.notify_all()

    def check(self) -> None:
        """Raise what a logging call must report: a record that was left out (once), or the
        write failure, for as long as it lasts."""
        error = self.record_failure
        if error is not None:
            self.record_failure = None
            raise error
        failure = self.write_failure
        if failure is not None:
            raise WriteError(str(failure), failure.path, failure.cause)

    def files_written(self) -> dict[Path, int | None]:
        """The files this writer writes in its run folder: each series file it appended to, with
        its length (one writer per file, so all of it is this writer's), and run.json and its
        summaries file (None: rewritten whole). What a copy of the folder kept elsewhere (a
        server's object store) needs after this writer's flush, without walking the folder."""
        files: dict[Path, int | None] = {s.path: s.size for s in list(self._by_id) if s.started}
        files[self.folder.summaries / f"{self.writer_id}.json"] = None
        files[self.folder.run_file] = None
        return files

    def close(self) -> None:
        """Write everything, fsync, and stop. What still cannot be written is dropped, counted."""
        if self._closed:
            return
        if self._flusher is not None:
            with self._cond:
                self._closing = True
                while self._busy and self._flusher_alive():  # the flusher is draining this writer
                    self._cond.wait(0.1)
                self._flusher.writers.discard(self)
        self._drain(fsync=True, final=True)
        self._closed = True

    @property
    def pending(self) -> int:
        return (len(self.metrics) // RECORD_WIDTH + len(self.events) + len(self.tasks) + len(self.run_ops)
                + self._backlog_records)

    def drop(self, reason: str, count: int, message: str) -> None:
        """Count ``count`` records left out for ``reason``; the first message is kept."""
        with self._drop_lock:
            entry = self.dropped.get(reason)
            if entry is None:
                self.dropped[reason] = [count, message[:500]]
            else:
                entry[0] += count
            self._dropped_due = True

    def dropped_report(self) -> dict[str, dict[str, Any]]:
        """``{reason: {"count": n, "message": first message}}``, as run.json keeps it."""
        with self._drop_lock:
            return {reason: {"count": count, "message": message}
                    for reason, (count, message) in sorted(self.dropped.items())}

    def _alive(self) -> bool:
        """Whether the flusher thread drains this writer (it does not once close() began)."""
        return not self._closing and self._flusher_alive()

    def _flusher_alive(self) -> bool:
        flusher = self._flusher
        return flusher is not None and flusher.pid == os.getpid() and flusher.thread.is_alive()

    # -- writer thread -------------------------------------------------------------------

    def every(self, interval: float, function: Callable[[], float | None],
              first: float | None = None) -> list:
        """Call ``function`` on the flusher thread every ``interval`` seconds, the first time
        ``first`` seconds from now (one interval by default), until ``cancel(handle)`` (what a
        heartbeat and the resource sampler do, without a thread of their own). A function that
        returns a number of seconds is called next that many seconds from its return instead of
        one interval from its start. It must be quick and must not wait for this writer."""
        if self._thread is None:
            self._start()
        delay = interval if first is None else first
        handle = [time.monotonic() + delay, float(interval), function]
        with self._cond:
            self._periodic.append(handle)
            if delay < _flushing.POLL:  # else the thread's next look is soon enough
                self._cond.notify_all()
        return handle

    def cancel(self, handle: list) -> None:
        """Stop calling ``every``'s function; returns once it is not running."""
        with self._cond:
            while self._busy and self._flusher_alive():
                self._cond.wait(0.1)
            if handle in self._periodic:
                self._periodic.remove(handle)

    def _due(self, now: float) -> bool:
        """Whether the flusher thread should drain this writer now (called holding _cond)."""
        return (self._requested != self._completed or now >= self._next_flush
                or len(self.metrics) + len(self.events) > self.max_pending // 2)

    def _next_time(self) -> float:
        return min([self._next_flush, *(entry[0] for entry in self._periodic)])

    @contextmanager
    def _running_tasks(self) -> Iterator[None]:
        """The flusher runs tasks or periodic functions meanwhile: ``queue_full`` writes batches."""
        self._in_tasks = True
        try:
            yield
        finally:
            self._in_tasks = False

    def _run_periodic(self, now: float) -> None:
        with self._running_tasks():
            for entry in list(self._periodic):
                if entry[0] <= now:
                    entry[0] = now + entry[1]
                    try:
                        after = entry[2]()
                        if after is not None:
                            entry[0] = time.monotonic() + after
                    except Exception:  # noqa: BLE001 - reported at end(); the next call may work
                        self.errors.append(traceback.format_exc())

    def _drain_batch(self, wait: bool = True) -> None:
        """Write the queued metrics alone (``queue_full``). The rest (tasks, events, the
        summaries file, run.json, the catalog) waits for the next whole drain. Without
        ``wait``, nothing when another thread is writing metrics."""
        failed: list[tuple[Path, OSError]] = []
        try:
            self._drain_metrics(failed, wait)
        except Exception:  # noqa: BLE001 - the thread must survive to keep writing later records
            self.errors.append(traceback.format_exc())
        if failed or self.write_failure is not None:
            self._update_failure(failed)

    def _drain(self, fsync: bool = False, final: bool = False) -> None:
        failed: list[tuple[Path, OSError]] = []  # the writes that failed in this drain
        try:
            with self._running_tasks():
                self._drain_tasks(failed)
            touched = self._drain_metrics(failed)
            self._drain_events(failed)
            self._retry_backlog(failed)
            changed = bool(touched) or self._summaries_due
            if self._summaries_due:
                self._write_summaries(failed)
            if final:
                self._drop_backlog(failed)
            if self._dropped_due:
                self._dropped_due = False
                self.run_ops.append(("merge", "dropped", {self.writer_id: self.dropped_report()}))
            if self.run_ops:
                changed = self._write_run_ops(failed, final) or changed
            if fsync:
                for series in self._series.values():
                    try:
                        series.fsync()
                    except OSError as error:
                        failed.append((series.path, error))
            if self.after_flush is not None:
                self.after_flush(changed)
        except Exception:  # noqa: BLE001 - the thread must survive to keep writing later records
            self.errors.append(traceback.format_exc())
            if len(self.errors) > 100:
                del self.errors[:50]
        self._update_failure(failed)

    def _update_failure(self, failed: list[tuple[Path, OSError]]) -> None:
        if not failed:
            if self.write_failure is not None and not self._backlog_records and not self.run_ops:
                self.write_failure = None  # the disk has room again: everything is written
            return
        path, error = failed[0]
        lost = sum(count for reason, (count, _) in self.dropped.items() if reason != "invalid_value")
        first = self.write_failure is None
        self.write_failure = WriteError(
            f"Could not write {path}: {error.strerror or error} [Errno {error.errno}]. "
            f"{self._backlog_records + len(self.metrics) // RECORD_WIDTH + len(self.events)} records are kept "
            f"pending and are written when the disk has room again (at most max_pending="
            f"{self.max_pending}; beyond that they are dropped and counted)"
            + (f"; {lost} records were dropped so far" if lost else "")
            + ". Free space on that disk, or set LABBOOK_NEVER_CRASH=1 to count and report such "
            "losses at end() instead of raising.",
            path, error)
        if first and self.on_failure is not None:
            self.on_failure()

    def _left_out(self, reason: str, count: int, message: str, error: LabbookError) -> None:
        self.drop(reason, count, message)
        if self.record_failure is None:
            self.record_failure = error
            if self.on_failure is not None:
                self.on_failure()

    def _drain_tasks(self, failed: list) -> None:
        count = len(self.tasks)
        if not count:
            return
        tasks = self.tasks[:count]
        del self.tasks[:count]
        for task in tasks:
            try:
                task()
            except Exception as error:  # noqa: BLE001 - counted and reported, never dropped silently
                self.errors.append(traceback.format_exc())
                reason = loss_reason(error)
                self.drop(reason, 1, f"a background write failed: {type(error).__name__}: {error}")
                if reason != "invalid_value":  # the disk: raised like any write that failed
                    failed.append((getattr(error, "filename", None) or self.folder.path, error))

    def _drain_metrics(self, failed: list, wait: bool = True) -> set[Series]:
        """``_write_queued_metrics`` holding ``_metrics_lock`` (without ``wait``: nothing when
        another thread holds it)."""
        if not self._metrics_lock.acquire(blocking=wait):
            return set()
        try:
            return self._write_queued_metrics(failed)
        finally:
            self._metrics_lock.release()

    def _write_queued_metrics(self, failed: list) -> set[Series]:
        """Encode and write the queued metrics, a batch (``DRAIN_BATCH`` records, or an eighth
        of a longer queue) at a time so that what encoding holds stays small. The queue is flat: each call extends it by one
        record of four entries, ``series id, step or None, time in µs, value`` from
        ``log_metric`` or ``ids, step, time, values`` from ``log_metrics``; a list's extend is
        atomic, so records logged from several threads never mix."""
        touched: set[Series] = set()
        count = len(self.metrics)
        count -= count % RECORD_WIDTH  # whole records only (every call adds one at once)
        # a batch at a time, each freed before the next (at most 8 steps: each shifts the rest)
        batch = max(DRAIN_BATCH * RECORD_WIDTH, -(-count // 8 // RECORD_WIDTH) * RECORD_WIDTH)
        while count > 0:
            queue = self.metrics[:min(batch, count)]
            del self.metrics[:len(queue)]
            self._set_drain_mark()
            count -= batch
            if queue:
                self._write_metric_queue(queue, failed, touched)
        return touched

    def _write_metric_queue(self, queue: list, failed: list, touched: set[Series]) -> None:
        """Write records taken off the queue. When the series repeat in the same order (one
        series; one log_metrics row; the same metrics logged at every step), each series'
        column is a strided slice of the queue, packed by one ``struct.pack`` call (no numpy in
        a logging process, and no Python work per record), then interleaved into the file's
        24-byte records by three strided copies (``_records``). Otherwise, or for a record the
        call site should have refused, the records are gathered and checked one by one."""
        ids = queue[0::RECORD_WIDTH]
        first = ids[0]
        self._record_points = len(first) if type(first) is tuple else 1
        period = _period(ids)
        if period:
            try:
                positions = [_pack_position(queue, position, period, ids[position]) for position in range(period)]
            except _UNPACKABLE:  # a record the call site did not catch: the careful path below
                pass
            else:
                for ids_at, columns, floats in positions:
                    if type(ids_at) is not tuple:
                        self._write_metric_group(ids_at, *columns, floats, failed, touched)
                        continue
                    steps, packed_steps, times, last_time, values = columns
                    # The row's metrics share their steps and times: interleaved once, copied per metric.
                    frame = None if packed_steps is None else _records(packed_steps, times, None)
                    for column, series_id in enumerate(ids_at):
                        self._write_metric_group(series_id, steps, packed_steps, times, last_time,
                                                 values[column], floats[column], failed, touched, frame)
                return
        records = list(zip(*(queue[i::RECORD_WIDTH] for i in range(RECORD_WIDTH))))
        if tuple in set(map(type, ids)):  # log_metrics rows (mixed with log_metric records)
            records = _split_rows(records)
        groups: dict[int, list[tuple]] = {}
        for record in records:  # in logging order within each series
            groups.setdefault(record[0], []).append(record)
        for series_id, group in groups.items():
            try:
                columns = _group_columns(group)
            except _UNPACKABLE:  # a value the call site did not catch: checked one by one
                group = self._valid_metric_records(group)
                if not group:
                    continue
                columns = _group_columns(group)
            self._write_metric_group(series_id, *columns, list(map(_FOURTH, group)), failed, touched)

    def _write_metric_group(self, series_id: int, steps: list, packed_steps: memoryview | None,
                            times: memoryview, last_time: int, values: memoryview, floats: list,
                            failed: list, touched: set, frame: bytearray | None = None) -> None:
        """Queue and write one series' records: ``steps`` as logged (None where a point had no
        step), the columns packed by ``_packed`` (``packed_steps`` None when a step is missing),
        the last time in µs and the values as floats (for the summary). ``frame``: these steps
        and times already interleaved as records (``_records`` without values), to copy."""
        series = self._by_id[series_id]
        if packed_steps is None:
            steps = self._fill_steps(series, list(steps))
            packed_steps = _packed("q", steps, len(steps))
            frame = None
        last_step = steps[-1]
        series.next_step = last_step + 1
        stats = _summary_of(floats, last_step, last_time)
        if frame is None:
            records = _records(packed_steps, times, values)
        else:
            records = bytearray(frame)
            memoryview(records).cast("q")[2::3] = values
        if self._queue(series, records, len(floats), stats) and self._write(series, failed):
            touched.add(series)

    def _valid_metric_records(self, records: list[tuple]) -> list[tuple]:
        """The records the binary format can hold; every other one is counted and reported."""
        valid = []
        for record in records:
            series_id, step, moment, value = record
            try:
                if step is not None and not (type(step) is int and fmt.STEP_MIN <= step <= fmt.STEP_MAX):
                    raise ValueError(f"step={step!r:.40} is not an int64 step")
                # epoch µs as queued, or epoch seconds (a float) from older callers
                time_us = moment if type(moment) is int else round(float(moment) * 1e6)
                if not fmt.EPOCH_US_MIN <= time_us <= fmt.EPOCH_US_MAX:
                    raise ValueError(f"timestamp {moment!r:.40} is out of range")
                value = float(value)
            except (OverflowError, ValueError, TypeError) as error:
                name = self._by_id[series_id].name
                message = f"log_metric({name!r}) at step {step!r:.40}: {error}; the point was left out."
                self._left_out("invalid_value", 1, message, InvalidValueError(message))
                continue
            valid.append((series_id, step, time_us, value))
        return valid

    @staticmethod
    def _fill_steps(series: Series, steps: list) -> list:
        """A point logged without a step takes the step after the series' previous point."""
        next_step = series.next_step
        for i, step in enumerate(steps):
            if step is None:
                steps[i] = step = next_step
            next_step = step + 1
        return steps

    def _summarise(self, series: Series) -> None:
        """Add what the records just written bring to the series' summary (``_summary_of``)."""
        summary = series.summary or {"count": 0, "min": None, "max": None}
        for count, low, high, last, last_step, last_time in series.backlog_stats:
            summary["count"] += count
            if low is not None:
                summary["min"] = low if summary["min"] is None else min(summary["min"], low)
                summary["max"] = high if summary["max"] is None else max(summary["max"], high)
            summary["last"] = last if math.isfinite(last) else repr(last)  # JSON has no NaN/inf
            summary["last_step"] = last_step
            summary["last_timestamp"] = fmt.iso(last_time)
        series.backlog_stats = []
        series.summary = summary
        self._summaries_due = True

    def _drain_events(self, failed: list) -> None:
        count = len(self.events)
        if not count:
            return
        records = self.events[:count]
        del self.events[:count]
        chunks: dict[Series, list[bytes]] = {}
        encode = fmt.encode_json_record
        for series, step, time_us, value in records:
            try:
                line = encode(step, time_us, value)
            except (TypeError, ValueError, OverflowError) as error:  # orjson's errors are TypeErrors
                message = (f"log_{series.kind}({series.name!r}) at step {step!r:.40}: the value "
                           f"cannot be written ({error}); the event was left out.")
                self._left_out("invalid_value", 1, message, InvalidValueError(message))
                continue
            chunks.setdefault(series, []).append(line)
        for series, lines in chunks.items():
            if self._queue(series, b"".join(lines), len(lines)):
                self._write(series, failed)

    def _queue(self, series: Series, payload: bytes | bytearray, count: int, stats: tuple | None = None) -> bool:
        """Add encoded records to the series' backlog; False when they do not fit while the
        disk is failing (then they are dropped and counted)."""
        if (series.backlog or self.write_failure is not None) and (
                self._backlog_records + count > self.max_pending):
            failure = self.write_failure
            cause = failure.cause if failure is not None else None
            reason = loss_reason(cause) if cause is not None else "write_error"
            self.drop(reason, count, f"{series.kind} {series.name!r}: {count} records did not fit "
                      f"in max_pending={self.max_pending} while the run folder could not be "
                      f"written ({failure})")
            return False
        series.backlog.append(payload)
        if stats is not None:
            series.backlog_stats.append(stats)
        series.backlog_records += count
        self._backlog_records += count
        return True

    def _write(self, series: Series, failed: list) -> bool:
        """Write the series' backlog; True when it is all written."""
        data = series.backlog[0] if len(series.backlog) == 1 else b"".join(series.backlog)
        try:
            series.append(data, self.writer_id, self.header_extra)
        except OSError as error:
            series.backlog = [data]
            failed.append((series.path, error))
            return False
        series.backlog = []
        self._backlog_records -= series.backlog_records
        series.backlog_records = 0
        if series.backlog_stats:
            self._summarise(series)
        return True

    def _retry_backlog(self, failed: list) -> None:
        if self._backlog_records:
            for series in self._by_id:
                if series.backlog:
                    self._write(series, failed)

    def _drop_backlog(self, failed: list) -> None:
        """At close: what still cannot be written is counted as dropped."""
        error = failed[0][1] if failed else None
        for series in self._by_id:
            if series.backlog:
                self.drop(loss_reason(error) if error else "write_error", series.backlog_records,
                          f"{series.kind} {series.name!r}: {series.backlog_records} records could "
                          f"not be written to {series.path} before the run ended ({error})")
                self._backlog_records -= series.backlog_records
                series.backlog, series.backlog_records, series.backlog_stats = [], 0, []

    def _write_run_ops(self, failed: list, final: bool) -> bool:
        ops = self.run_ops[: len(self.run_ops)]
        del self.run_ops[: len(ops)]
        try:
            update_run_file(self.folder.run_file, ops)
        except OSError as error:
            failed.append((self.folder.run_file, error))
            if final:
                self.drop(loss_reason(error), len(ops),
                          f"{len(ops)} changes to {self.folder.run_file} could not be written "
                          f"before the run ended ({error})")
            else:
                self.run_ops[:0] = ops  # retried at the next drain, in order
            return False
        return True

    def _write_summaries(self, failed: list) -> None:
        summaries = {
            s.name: s.summary for s in self._series.values() if s.kind == "metric" and s.summary
        }
        path = self.folder.summaries / f"{self.writer_id}.json"
        try:
            self.folder.summaries.mkdir(parents=True, exist_ok=True)
            write_atomic(path, orjson.dumps({"writer": self.writer_id, "metrics": summaries}))
        except OSError as error:  # derived data: rewritten whole at the next drain
            failed.append((path, error))
            return
        self._summaries_due = False
