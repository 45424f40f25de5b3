"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from labbook.errors import CatalogDamagedError, LabbookError
from labbook.store.layout import RUN_FILE, RunFolder
from labbook.store.record import read_run_record

if TYPE_CHECKING:
    from labbook.catalog.catalog import Catalog

_RUN_DIR = re.compile(r"^[0-9a-f]{32}$")

_catalogs: dict[str, Catalog] = {}
_open_lock = threading.Lock()


def open_catalog(url: str) -> Catalog:
    """One Catalog per URL per process (engines are pooled and thread-safe)."""
    catalog = _catalogs.get(url)
    if catalog is None:
        from labbook.catalog.catalog import Catalog  # SQLAlchemy: loaded by what reads the catalog

        with _open_lock:  # the writer thread and the caller may both open it first
            catalog = _catalogs.get(url)
            if catalog is None:
                catalog = _catalogs[url] = Catalog(url)
                from labbook.gcfreeze import freeze_imports

                freeze_imports("catalog")  # SQLAlchemy's objects: never walked again by a full collection
    return catalog


def index_run(catalog: Catalog, path: Path) -> None:
    folder = RunFolder(Path(path))
    record = read_run_record(folder.path)
    catalog.upsert_run(record, run_file_mtime=folder.run_file.stat().st_mtime)


def iter_run_folders(artifacts_root: Path) -> Iterator[Path]:
    """Every ``<root>/<project>/<uuid>/`` holding a run.json."""
    root = Path(artifacts_root)
    if not root.is_dir():
        return
    for project_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for run_dir in sorted(project_dir.iterdir()):
            if _RUN_DIR.match(run_dir.name) and (run_dir / RUN_FILE).is_file():
                yield run_dir


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
    from labbook.artifacts.api import reindex_artifacts

    artifacts = reindex_artifacts(catalog, artifacts_root, settings)
    return {"found": len(folders), "indexed": indexed, "failed": failed, "removed": len(removed),
            "damaged": artifacts["damaged"]}


def forget_catalog(url: str) -> None:
    """Drop this process's open catalog for ``url`` (its file is about to be replaced)."""
    with _open_lock:
        catalog = _catalogs.pop(url, None)
    if catalog is not None:
        catalog.close()
    close_run_indexes(url)


def set_aside(path: Path) -> Path:
    """Rename a damaged SQLite file, with its -wal and -shm, to ``<name>.damaged-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target


def rebuild_home(settings: Any, *, full: bool = True,
                 progress: Callable[[int, int], None] | None = None,
                 on_error: Callable[[Path, Exception], None] | None = None) -> dict[str, Any]:
    """``labbook index [--rebuild]`` for one home's settings.

    A full rebuild of a damaged SQLite catalog sets the file aside (``set_aside``; the result's
    ``set_aside`` and ``damage`` say where and why) and builds a new one from the run folders.
    The result's ``skipped`` lists ``(folder, error)`` for each run folder it could not read.
    """
    url = settings.catalog_url
    skipped: list[tuple[Path, Exception]] = []

    def skip(folder: Path, error: Exception) -> None:
        skipped.append((folder, error))
        if on_error:
            on_error(folder, error)

    def run() -> dict[str, Any]:
        skipped.clear()
        catalog = open_catalog(url)
        if full:
            catalog.check_integrity()
        result = rebuild(catalog, Path(settings.artifacts_root), full=full, progress=progress,
                         settings=settings, on_error=skip)
        return {**result, "skipped": list(skipped)}

    try:
        return {**run(), "set_aside": None, "damage": None}
    except CatalogDamagedError as error:
        from labbook.catalog.catalog import Catalog

        path = Catalog.sqlite_path(url)
        if not full or path is None:
            raise
        forget_catalog(url)
        aside = set_aside(path)
        return {**run(), "set_aside": aside, "damage": error.reason}


def run_index(url: str):
    """What a logging process writes its runs' rows with: for a SQLite catalog at the newest
    revision (or none yet), a ``SqliteIndex`` (standard library only, one per URL per process,
    kept open for the next run: closing the last connection checkpoints the WAL, an fsync);
    None otherwise: then the ``Catalog`` of ``open_catalog`` (SQLAlchemy, which migrates)."""
    key = (os.getpid(), url)
    index = _indexes.get(key, _MISSING)
    if index is _MISSING:
        with _open_lock:
            index = _indexes.get(key, _MISSING)
            if index is _MISSING:
                index = _indexes[key] = _open_run_index(url)
    return index


def close_run_indexes(url: str | None = None) -> None:
    """Close this process's run indexes (of ``url``, or all): their file is about to be
    replaced, or the process is done. Live runs reopen theirs at their next write."""
    with _open_lock:
        for key in [k for k in _indexes if url is None or k[1] == url]:
            index = _indexes.pop(key)
            if index is not None:
                index.close()


_MISSING = object()


def _open_run_index(url: str):
    from labbook.catalog.sqlite_index import NeedsCatalog, SqliteIndex

    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Path(url[len("sqlite:///"):])
        if not path.exists() or os.access(path, os.W_OK):
            try:
                return SqliteIndex(path)
            except NeedsCatalog:
                pass
    return None  # open_catalog(url), from the indexer thread


_indexes: dict[tuple[int, str], Any] = {}  # (pid, url) -> SqliteIndex, or None: use open_catalog


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

    def request(self, indexer: "RunIndexer", at: float) -> None:
        with self.cond:
            if indexer not in self.due:
                self.due[indexer] = at
                self.cond.notify()

    def forget(self, indexer: "RunIndexer") -> None:
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
    """

    def __init__(self, path: Path, catalog_url: str, interval: float) -> None:
        self.path = Path(path)
        self.catalog_url = catalog_url
        self.interval = interval
        self.errors: list[str] = []
        self._first_done = threading.Event()
        self._lock = threading.RLock()
        self._last = 0.0
        self._closed = False
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
        """Wait until the run's first index is done (or failed), at most ``timeout`` seconds."""
        return self._first_done.wait(timeout)

    def index_now(self, background: bool = False) -> None:
        with self._lock:  # the thread's pass and close()'s never interleave read and write
            if background and self._closed:
                return  # closed meanwhile, and indexed by close()
            try:
                index_run(self._index or open_catalog(self.catalog_url), self.path)
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
