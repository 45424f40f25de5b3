"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import atexit
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from labbook.errors import CatalogDamagedError, LabbookError
from labbook.store.layout import RUN_FILE, RunFolder, RunStore
from labbook.store.record import read_run_record

if TYPE_CHECKING:
    from labbook.catalog.catalog import Catalog
    from labbook.catalog.sqlite_index import SqliteIndex
    from labbook.config import Settings


class RunRows(Protocol):
    """What run rows are written with: a ``Catalog`` or a logging process's ``SqliteIndex``."""

    def upsert_run(self, record: dict[str, Any], run_file_mtime: float | None = None) -> None: ...


def index_run(catalog: RunRows, path: Path) -> None:
    folder = RunFolder(Path(path))
    record = read_run_record(folder.path)
    catalog.upsert_run(record, run_file_mtime=folder.run_file.stat().st_mtime)


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
    replaced, or the process is done. Live runs reopen theirs at their next write."""
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


class _Keeper:
    """The one thread per process that keeps live runs' catalog entries current: each run asks
    (``RunIndexer.request``) and is indexed at most every ``interval`` seconds; requests within
    the interval are folded into the next pass. No thread is started or stopped per run."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.due: dict[RunIndexer, float] = {}
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._loop, name="labbook-indexer", daemon=True)
        self.thread.start()

    def request(self, indexer: RunIndexer, at: float) -> None:
        with self.cond:
            if indexer not in self.due:
                self.due[indexer] = at
                self.cond.notify()

    def forget(self, indexer: RunIndexer) -> None:
        with self.cond:
            self.due.pop(indexer, None)

    def _loop(self) -> None:
        while True:
            with self.cond:
                while True:
                    now = time.monotonic()
                    ready = [indexer for indexer, at in self.due.items() if at <= now]
                    if ready:
                        for indexer in ready:
                            del self.due[indexer]
                        break
                    wait = min(self.due.values(), default=now + 60) - now
                    self.cond.wait(max(wait, 0.001))
            for indexer in ready:
                indexer.index_now(background=True)


_keeper: list[_Keeper] = []


def _the_keeper() -> _Keeper:
    with _open_lock:
        if not _keeper or _keeper[0].pid != os.getpid():  # a forked child starts its own
            _keeper[:] = [_Keeper()]
        return _keeper[0]


class RunIndexer:
    """Keeps one live run's catalog entry current, off the caller's path.

    The catalog is an index, so it must never hold up logging. For the embedded SQLite catalog
    the run's row is written with the standard library (``run_index``: no SQLAlchemy, no
    Alembic in a logging process): once when the run starts, so a run killed a moment later is
    listed, and once more, synchronously, at ``close()``, so an ended run is always current. In
    between, the process's one indexer thread (``_Keeper``) re-indexes it at most every
    ``interval`` seconds after a change. A catalog that needs SQLAlchemy (PostgreSQL, or an
    older SQLite revision to migrate) is opened and first indexed on that thread, and
    ``wait_first`` waits for it there: the caller holds no interpreter lock meanwhile.

    The run's ``Catalog`` (``catalog``: opened on first use, by the artifact methods or, without
    a ``SqliteIndex``, by indexing) belongs to this indexer and is closed by ``close()``.
    """

    def __init__(self, path: Path, catalog_url: str, interval: float) -> None:
        self.path = Path(path)
        self.catalog_url = catalog_url
        self.interval = interval
        self.errors: list[str] = []
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()
        self._first_done = threading.Event()
        self._lock = threading.RLock()
        self._last = 0.0
        self._closed = False
        self._index: SqliteIndex | None
        try:
            self._index = run_index(catalog_url)
        except Exception as error:  # noqa: BLE001 - the folder is the record; the index can be rebuilt
            self.errors.append(f"{type(error).__name__}: {error}")
            self._index = None
        if self._index is not None:
            self.index_now()
        else:
            _the_keeper().request(self, 0.0)

    def request(self) -> None:
        _the_keeper().request(self, self._last + self.interval)

    def wait_first(self, timeout: float) -> bool:
        """Wait until the run's first index is done (or failed), at most ``timeout`` seconds.
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

    def index_now(self, background: bool = False) -> None:
        with self._lock:  # the thread's pass and close()'s never interleave read and write
            if background and self._closed:
                return  # closed meanwhile, and indexed by close()
            try:
                index_run(self._index or self.catalog, self.path)
            except Exception as error:  # noqa: BLE001 - the folder is the record; the index can be rebuilt
                self.errors.append(f"{type(error).__name__}: {error}")
            self._last = time.monotonic()
        self._first_done.set()

    def close(self) -> None:
        if _keeper:
            _keeper[0].forget(self)
        with self._lock:
            self.index_now()
            self._closed = True
        self.close_catalog()

    def close_catalog(self) -> None:
        """Close the run's catalog, if it opened one (a later call opens it again)."""
        with self._catalog_lock:
            catalog, self._catalog = self._catalog, None
        if catalog is not None:
            catalog.close()
