"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import atexit
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from labbook.catalog.keeper import Keeper, finish_pending, forget, the_keeper
from labbook.errors import CatalogDamagedError, LabbookError
from labbook.store.hashing import RACY_SECONDS  # a run.json this recent may change within its time stamp's tick
from labbook.store.layout import RUN_FILE, RunFolder, RunStore
from labbook.store.record import read_run_record

if TYPE_CHECKING:
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.sqlite_index import SqliteIndex
    from labbook.config import Settings


class RunRows(Protocol):
    """What run rows are written with: a ``Catalog`` or a logging process's ``SqliteIndex``."""

    def upsert_run(self, record: dict[str, Any], run_file_mtime: float | None = None,
                   newer_only: bool = False) -> None: ...


RACY_MARK = 1e-5  # seconds taken off a recent run.json's mtime in its row (several float steps at today's times)


def index_run(catalog: RunRows, path: Path, newer_only: bool = False) -> None:
    """Write the run folder's row. ``newer_only``: leave a row indexed from a newer run.json
    alone (two indexers of one run, a reader and the logging process, may race)."""
    folder = RunFolder(Path(path))
    mtime = folder.run_file.stat().st_mtime  # before reading: the row never claims a newer file
    record = read_run_record(folder.path)
    if time.time() - mtime < RACY_SECONDS:
        # A file's time stamp moves by the clock's tick, so run.json may change again after this
        # read and keep this mtime. Kept a little lower, the row reads as older than the file, and
        # the next incremental reindex (``rebuild``) reads the run again; newer_only's comparison
        # between two indexers is unchanged (both sides lowered alike).
        mtime -= RACY_MARK
    catalog.upsert_run(record, run_file_mtime=mtime, newer_only=newer_only)


# -- runs whose row may be missing or behind: a marker per run beside the SQLite catalog ------
#
# A logging process writes a run's first row off the caller's path (the indexer thread below), so
# a run starts without waiting for the catalog (nor, in a new home, for its creation). Until that
# row is written, the run is marked: ``.<catalog file>.pending/<uuid>``, a small file holding its
# folder's path (older versions left a symbolic link to it; both are read), made before ``init()``
# returns and removed by whoever writes the row. A reader (``Workspace``) indexes the runs it
# finds marked before it reads, so a run killed a moment after it started is still listed.
#
# A run's later rows lag its folder by up to an index interval, so a process killed within one
# leaves a row without its last values. A second marker, ``.<catalog file>.live/<uuid>``, is kept
# from ``init()`` to the run's last row (``end()``); a reader indexes and unmarks a run marked
# live whose writer is gone (no heartbeat for ``MISSED_BEATS`` heartbeat intervals: killed, or its
# machine lost), so the listing shows everything the run flushed. A live run's row is its own
# writer's to keep: the reader only reads a few heartbeat files' times.

def pending_folder(catalog_url: str, kind: str = "pending") -> Path | None:
    """Where the runs of a SQLite catalog file leave their markers: ``.<file name>.pending``
    (no row yet) or ``.<file name>.live`` (``kind="live"``: its last row not written yet) beside
    it, hidden (None for other catalogs)."""
    if catalog_url.startswith("sqlite:///") and not catalog_url.endswith(":memory:"):
        path = Path(catalog_url[len("sqlite:///"):])
        return path.with_name(f".{path.name}.{kind}")
    return None


def mark_pending(folder: Path, uuid: str, run_path: Path) -> None:
    """Leave run ``uuid``'s marker (OSError when the folder cannot be written): a small file
    holding the run folder's path. Not a symbolic link: a link to a path longer than its inode
    holds (60 bytes on ext4) takes a disk block at once, and freeing that block when the marker
    goes (a file system mounted with ``discard`` trims it there and then) costs milliseconds;
    a file removed before the system writes it back never takes a block."""
    from labbook.store.files import write_atomic

    write_atomic(folder / uuid, os.fsencode(run_path), durable=False)  # its folder made if need be


def mark_live(pending: Path, live: Path, uuid: str, run_path: Path) -> None:
    """Leave run ``uuid``'s live marker beside its pending one: the same file, hard-linked (one
    system call rather than a second file written and renamed); written afresh where links
    cannot be made or a marker of that name is already there (a resumed run's)."""
    try:
        try:
            os.link(pending / uuid, live / uuid)
        except FileNotFoundError:  # the home's first run: no live folder yet
            live.mkdir(parents=True, exist_ok=True)
            os.link(pending / uuid, live / uuid)
    except OSError:
        mark_pending(live, uuid, run_path)


def unmark_pending(folder: Path, uuid: str) -> None:
    try:
        os.unlink(folder / uuid)
    except FileNotFoundError:
        pass


def _marked_path(marker: Path) -> Path | None:
    """The run folder a marker names (a file holding its path, or, left by an older version, a
    symbolic link to it); None when the marker is gone meanwhile (indexed by its writer)."""
    try:
        return Path(os.readlink(marker))
    except FileNotFoundError:
        return None
    except OSError:  # not a link: a file holding the path
        try:
            return Path(os.fsdecode(marker.read_bytes()))
        except OSError:
            return None


def _markers(folder: Path) -> Iterator[tuple[str, Path | None]]:
    try:
        names = os.listdir(folder)
    except OSError:
        return  # none, the usual case
    for name in names:
        if not name.startswith("."):  # else a marker being written
            yield name, _marked_path(folder / name)


def _writer_gone(path: Path, heartbeat_interval: float) -> bool:
    """No process beats run ``path``'s heartbeat any more: its newest heartbeat file is older than
    ``MISSED_BEATS`` intervals (the crashed-run rule's floor), or it has none."""
    from labbook.store.liveness import MISSED_BEATS, last_heartbeat

    last = last_heartbeat({"path": str(path)})
    return last is None or time.time() - last > MISSED_BEATS * heartbeat_interval


def _index_marked(catalog: Catalog, path: Path) -> bool:
    if not (path / RUN_FILE).is_file():
        return False
    try:
        index_run(catalog, path, newer_only=True)
        return True
    except CatalogDamagedError:
        raise
    except (LabbookError, ValueError, KeyError, TypeError, OSError):
        return False  # a damaged run.json: 'labbook index' reports it; nothing to retry here


def index_pending(catalog: Catalog, heartbeat_interval: float = 10.0) -> int:
    """Index the marked runs a reader must not read stale, before it reads; returns how many:
    those with no row yet, and those whose last row is not written and whose writer is gone
    (``_writer_gone`` with ``heartbeat_interval``). A row indexed from a newer run.json is left
    as it is."""
    if catalog.read_only:
        return 0
    done = 0
    pending = pending_folder(catalog.url)
    if pending is not None:
        for name, path in _markers(pending):
            if path is not None:
                done += _index_marked(catalog, path)
                unmark_pending(pending, name)
    live = pending_folder(catalog.url, "live")
    if live is not None:
        for name, path in _markers(live):
            if path is not None and _writer_gone(path, heartbeat_interval):
                done += _index_marked(catalog, path)
                unmark_pending(live, name)
    return done


def iter_run_folders(artifacts_root: Path) -> Iterator[Path]:
    """Every ``<root>/<project>/<uuid>/`` holding a run.json (``RunStore.iter_runs``)."""
    return RunStore(artifacts_root).iter_runs()


def rebuild(
    catalog: Catalog,
    artifacts_root: Path,
    *,
    full: bool = True,
    progress: Callable[[int, int], None] | None = None,
    settings=None,
    on_error: Callable[[Path, Exception], None] | None = None,
) -> dict[str, Any]:
    """Index every run folder under ``artifacts_root``.

    ``full`` clears the catalog first; otherwise only runs whose run.json changed since they
    were indexed are read again, and runs whose folder is gone are removed. Artifact versions,
    tags and lineage are re-read from the artifact store of ``settings`` (default: the current
    on_error: Callable[[Path, Exception], None] | None = None,
) -> dict[str, Any]:
    """
    folders = list(iter_run_folders(artifacts_root))
    known = {} if full else catalog.indexed_mtimes()
    if full:
        catalog.clear()
    seen, indexed, failed = set(), 0, 0
    for number, folder in enumerate(folders, 1):
        uuid = folder.name
        seen.add(uuid)
        mtime = (folder / RUN_FILE).stat().st_mtime
        if uuid in known and known[uuid][1] == mtime:
            continue
        try:
            index_run(catalog, folder)
            indexed += 1
        except CatalogDamagedError:
            raise
        except (LabbookError, ValueError, KeyError, TypeError, OSError) as error:
            failed += 1
            if on_error:
                on_error(folder, error)
        if progress:
            progress(number, len(folders))
    removed = [uuid for uuid in known if uuid not in seen]
    if removed:
        catalog.delete_runs(removed)
    from labbook.catalog.artifacts import reindex_artifacts

    artifacts = reindex_artifacts(catalog, artifacts_root, settings)
    return {"found": len(folders), "indexed": indexed, "failed": failed, "removed": len(removed),
            "damaged": artifacts["damaged"]}


def set_aside(path: Path) -> Path:
    """Rename a damaged SQLite file, with its -wal and -shm, to ``<name>.damaged-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def rebuild_home(settings: Settings, *, full: bool = True,
                 progress: Callable[[int, int], None] | None = None,
                 on_error: Callable[[Path, Exception], None] | None = None) -> dict[str, Any]:
    """``labbook index [--rebuild]`` for one home's settings.

    A full rebuild of a damaged SQLite catalog sets the file aside (``set_aside``; the result's
    ``set_aside`` and ``damage`` say where and why) and builds a new one from the run folders.
    The result's ``skipped`` lists ``(folder, error)`` for each run folder it could not read.
    """
    from labbook.catalog.catalog import Catalog  # SQLAlchemy: loaded by what reads or rebuilds the catalog

    url = settings.catalog_url
    skipped: list[tuple[Path, Exception]] = []

    def skip(folder: Path, error: Exception) -> None:
        skipped.append((folder, error))
        if on_error:
            on_error(folder, error)

    def run() -> dict[str, Any]:
        skipped.clear()
        catalog = Catalog(url)
        try:
            if full:
                catalog.check_integrity()
            result = rebuild(catalog, Path(settings.artifacts_root), full=full, progress=progress,
                             settings=settings, on_error=skip)
        finally:
            catalog.close()
        return {**result, "skipped": list(skipped)}

    try:
        return {**run(), "set_aside": None, "damage": None}
    except CatalogDamagedError as error:
        path = Catalog.sqlite_path(url)
        if not full or path is None:
            raise
        close_run_indexes(url)  # this process's logging connections to the file set aside
        aside = set_aside(path)
        return {**run(), "set_aside": aside, "damage": error.reason}


def run_index(url: str) -> SqliteIndex | None:
    """What a logging process writes its runs' rows with: for a SQLite catalog at the newest
    revision (or none yet), a ``SqliteIndex`` (standard library only, one per URL per process,
    kept open for the next run, since closing the last connection checkpoints the WAL, an fsync;
    closed at exit or by ``close_run_indexes``); None otherwise: then each run opens its own
    ``Catalog`` (SQLAlchemy, which migrates) on the indexer thread.

    These connections belong to the writing side of a process: they only ever write run rows,
    and nothing reads through them (a ``Workspace`` opens its own catalog)."""
    key = (os.getpid(), url)
    if key not in _indexes:
        with _open_lock:
            if key not in _indexes:
                _indexes[key] = _open_run_index(url)
                if not _exit_hook:
                    _exit_hook.append(atexit.register(close_run_indexes))
    return _indexes[key]


def close_run_indexes(url: str | None = None) -> None:
    """Close this process's run indexes (of ``url``, or all): their file is about to be
    replaced, or the process is done (then the rows still due are written first). Live runs
    reopen theirs at their next write."""
    if url is None:
        finish_pending()
    with _open_lock:
        for key in [k for k in _indexes if url is None or k[1] == url]:
            index = _indexes.pop(key)
            if index is not None and key[0] == os.getpid():  # a forked child leaves its parent's alone
                index.close()


def _open_run_index(url: str) -> SqliteIndex | None:
    from labbook.catalog.sqlite_index import NeedsCatalog, SqliteIndex

    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Path(url[len("sqlite:///"):])
        if not path.exists() or os.access(path, os.W_OK):
            try:
                return SqliteIndex(path)
            except NeedsCatalog:
                pass
    return None  # each run's own Catalog, opened on the indexer thread


_indexes: dict[tuple[int, str], SqliteIndex | None] = {}  # (pid, url) -> SqliteIndex, or None: a Catalog
_open_lock = threading.Lock()
_exit_hook: list[Any] = []


def _register_exit() -> None:
    if not _exit_hook:  # registered before any run's own exit hook, so it runs after them
        _exit_hook.append(atexit.register(close_run_indexes))


def _the_keeper() -> Keeper:
    return the_keeper(_register_exit)


def _forked_child() -> None:
    """A forked child gets a fresh lock: the parent's indexer thread, which is not in the child,
    may have held it at the fork (creating a catalog, say)."""
    global _open_lock
    _open_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


class RunIndexer:
    """Keeps one live run's catalog entry current, off the caller's path.

    The catalog is an index, so it must never hold up logging. For the embedded SQLite catalog
    the run's rows are written with the standard library (``run_index``: no SQLAlchemy, no
    Alembic in a logging process). The run is marked pending when it starts (``mark_pending``:
    a reader indexes it from its folder, so it is listed at once, even if killed a moment
    later), and its first row is written by the process's one indexer thread (``keeper.Keeper``)
    ``interval`` seconds later (in a process that has not opened the catalog yet, that pass
    opens it, creating it in a new home: never during a run's first seconds of logging). It is
    also marked live until its last row (a reader indexes it once its writer is gone). In
    between, the thread re-indexes the run at most every ``interval`` seconds after a change;
    ``close()`` marks the run pending again and leaves its last row to the thread (``close``).
    A catalog that needs SQLAlchemy
    (PostgreSQL, or an older SQLite revision to migrate) is opened and first indexed on the
    thread, and ``wait_first`` waits for it there: the caller holds no interpreter lock
    meanwhile.

    The run's ``Catalog`` (``catalog``: opened on first use, by the artifact methods or, without
    a ``SqliteIndex``, by indexing) belongs to this indexer and is closed by ``close()``.
    """

    def __init__(self, path: Path, catalog_url: str, interval: float, uuid: str | None = None) -> None:
        self.path = Path(path)
        self.uuid = uuid or self.path.name
        self.catalog_url = catalog_url
        self.interval = interval
        self.errors: list[str] = []
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()
        self._first_done = threading.Event()
        self._lock = threading.RLock()
        self._last = 0.0
        self._closing = False  # close() was called: the next row is the run's last
        self._closed = False  # the last row is written
        self._index: SqliteIndex | None = None
        self._index_open = False  # run_index() asked (on the indexer thread)
        self._pending = pending_folder(catalog_url)  # None: the run is not marked
        self._live = pending_folder(catalog_url, "live")  # None: not marked live
        keeper = _the_keeper()
        if self._pending is not None and self._live is not None:
            try:
                mark_pending(self._pending, self.uuid, self.path)
                mark_live(self._pending, self._live, self.uuid, self.path)
            except OSError as error:  # a catalog folder this process cannot write to
                self.errors.append(f"{type(error).__name__}: {error}")
                self._pending = self._live = None
        if self._pending is None:
            keeper.request(self, 0.0)
        else:
            self._first_done.set()  # listed at once: a reader indexes the marked run
            # The first row waits one interval, as any change does (a run that ends before is
            # indexed then too, or at exit). The catalog is opened (created, in a new home) by
            # that first pass, not at once: a run's first seconds of logging share the
            # interpreter with nothing of the catalog's.
            keeper.request(self, time.monotonic() + interval)

    def request(self) -> None:
        if not self._closing:  # else close() writes the last row itself
            _the_keeper().request(self, self._last + self.interval)

    def wait_first(self, timeout: float) -> bool:
        """Wait until the run is listed: at once for a SQLite catalog (the run is marked
        pending), else until its first row is written (or failed), at most ``timeout`` seconds.
        Waiting here, the caller holds no interpreter lock, so a first-time catalog open (import,
        migrations) runs at full speed; a run killed a moment later is still listed."""
        return self._first_done.wait(timeout)

    @property
    def catalog(self) -> Catalog:
        """The run's catalog, opened once (the indexer thread and the caller may both ask first)."""
        with self._catalog_lock:
            if self._catalog is None:
                from labbook.catalog.catalog import Catalog  # SQLAlchemy: loaded when needed

                self._catalog = Catalog(self.catalog_url)
                from labbook.gcfreeze import freeze_imports

                freeze_imports("catalog")  # SQLAlchemy's objects: never walked again by a full collection
            return self._catalog

    def rows(self) -> RunRows:
        """What this run's rows are written with: this process's ``SqliteIndex`` of the
        catalog, opened on first use, else the run's ``Catalog``."""
        if not self._index_open:
            self._index_open = True
            try:
                self._index = run_index(self.catalog_url)
            except Exception as error:  # noqa: BLE001 - the folder is the record; the index can be rebuilt
                self.errors.append(f"{type(error).__name__}: {error}")
        return self._index or self.catalog

    def index_now(self, background: bool = False, after: list[Callable[[], None]] | None = None) -> None:
        """Write the run's row now. ``after``: the row is written inside a transaction that is
        not committed yet, so the markers it makes stale are removed by the functions appended
        there, called once it is (``keeper.index_together``). The transaction holds the index's lock,
        and a caller indexing this run (``sync_events_summaries``) holds this run's lock while it
        waits for that one: so in a transaction the run is left to the next pass when its lock
        is taken."""
        # The thread's pass and close()'s never interleave read and write.
        if not self._lock.acquire(blocking=after is None):
            _the_keeper().request(self, time.monotonic())
            return
        try:
            if self._closed:
                return  # the last row is written
            try:
                index_run(self.rows(), self.path, newer_only=self._pending is not None)
                if self._pending is not None:
                    self._unmark(self._pending, after)  # listed without it from now on
                    self._pending = None
                if self._closing and self._live is not None:
                    self._unmark(self._live, after)  # the last row: current from now on
                    self._live = None
            except Exception as error:  # noqa: BLE001 - the folder is the record; the index can be rebuilt
                self.errors.append(f"{type(error).__name__}: {error}")
            self._last = time.monotonic()
            if self._closing:
                self._closed = True
        finally:
            self._lock.release()
        self._first_done.set()
        if self._closed:
            self.close_catalog()

    def _unmark(self, folder: Path, after: list[Callable[[], None]] | None) -> None:
        if after is None:
            unmark_pending(folder, self.uuid)
        else:
            after.append(lambda: unmark_pending(folder, self.uuid))

    def close(self) -> None:
        """The run ended: its last row is due. Where the run is marked (a SQLite catalog), the
        row is written off the caller's path: the run is marked pending again (``_remark``), so
        a reader indexes it from its folder before it reads and an ended run always reads
        current, and the indexer thread writes the row an index interval later, as it writes a change (the
        runs due then share one transaction; at exit at the latest). Otherwise (a catalog
        opened with SQLAlchemy, markers not writable) the row is written now."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            marked = self._remark()
        if marked:
            _the_keeper().request(self, time.monotonic() + self.interval)
            return
        forget(self)
        self.index_now()

    def _remark(self) -> bool:
        """Whether the run is marked pending for its last row: still, when its first row is not
        written yet (a run shorter than an interval), else once more, by a hard link of its live
        marker (one system call). Called holding ``_lock``."""
        if self._pending is not None:
            return True
        pending = pending_folder(self.catalog_url)
        if pending is None or self._live is None:
            return False
        try:
            os.link(self._live / self.uuid, pending / self.uuid)
        except FileExistsError:  # a reader's marker of an older version: the same path
            pass
        except OSError:
            return False
        self._pending = pending
        return True

    def close_catalog(self) -> None:
        """Close the run's catalog, if it opened one (a later call opens it again)."""
        with self._catalog_lock:
            catalog, self._catalog = self._catalog, None
        if catalog is not None:
            catalog.close()
