"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from labbook.catalog.catalog import Catalog
from labbook.errors import CatalogDamagedError, LabbookError
from labbook.store.layout import RUN_FILE, RunFolder, RunStore
from labbook.store.record import read_run_record

if TYPE_CHECKING:
    from labbook.config import Settings


def index_run(catalog: Catalog, path: Path) -> None:
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
        aside = set_aside(path)
        return {**run(), "set_aside": aside, "damage": error.reason}


class RunIndexer:
    """Keeps one live run's catalog entry current from its own thread.

    The catalog is an index, so it must never hold up writing events: opening it the first time
    in a process imports SQLAlchemy and may run migrations, which under a CPU-bound training loop
    (every file read waits for the interpreter lock) can take seconds. The writer only calls
    ``request()``; this thread indexes at most every ``interval`` seconds, and ``close()``
    indexes once more, synchronously, so an ended run is always current in the catalog.

    The indexer owns the run's one ``Catalog`` (``catalog``, opened on first use, closed by
    ``close()``); the run's artifact methods use it too.
    """

    def __init__(self, path: Path, catalog_url: str, interval: float) -> None:
        self.path = Path(path)
        self.catalog_url = catalog_url
        self.interval = interval
        self.errors: list[str] = []
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()
        self._ended = False
        self._wanted = threading.Event()
        self._first_done = threading.Event()
        self._closed = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="labbook-indexer", daemon=True)
        self._thread.start()
        self._wanted.set()  # index once at start, so a live run is listed

    def request(self) -> None:
        self._wanted.set()

    def wait_first(self, timeout: float) -> bool:
        """Wait until the run's first index is done (or failed), at most ``timeout`` seconds.
        Waiting here, the caller holds no interpreter lock, so a first-time catalog open (import,
        migrations) runs at full speed; a run killed a moment later is still listed."""
        return self._first_done.wait(timeout)

    @property
    def catalog(self) -> Catalog:
        """The run's catalog, opened once (the writer thread and the caller may both ask first)."""
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = Catalog(self.catalog_url)
            return self._catalog

    def index_now(self) -> None:
        try:
            index_run(self.catalog, self.path)
        except Exception as error:  # noqa: BLE001 - the folder is the record; the index can be rebuilt
            self.errors.append(f"{type(error).__name__}: {error}")
        if self._ended:  # a flush after the run ended: nothing keeps the catalog open now
            self.close_catalog()

    def _loop(self) -> None:
        import time

        while not self._closing:
            self._wanted.wait()
            if self._closing:
                return
            self._wanted.clear()
            started = time.monotonic()
            self.index_now()
            self._first_done.set()
            # throttle: later requests within the interval are folded into the next pass;
            # close() cuts the wait short
            self._closed.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def close(self) -> None:
        self._closing = True
        self._closed.set()
        self._wanted.set()
        self._thread.join(timeout=5)
        self._ended = True
        self.index_now()

    def close_catalog(self) -> None:
        """Close the catalog (a later call opens it again)."""
        with self._catalog_lock:
            catalog, self._catalog = self._catalog, None
        if catalog is not None:
            catalog.close()
