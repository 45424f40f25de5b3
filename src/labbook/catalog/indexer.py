"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from labbook.catalog.catalog import Catalog
from labbook.errors import CatalogDamagedError, LabbookError
from labbook.store.layout import RUN_FILE, RunFolder
from labbook.store.record import read_run_record

_RUN_DIR = re.compile(r"^[0-9a-f]{32}$")

_catalogs: dict[str, Catalog] = {}
_open_lock = threading.Lock()

if TYPE_CHECKING:
    from labbook.config import Settings


def open_catalog(url: str) -> Catalog:
    """One Catalog per URL per process (engines are pooled and thread-safe)."""
    catalog = _catalogs.get(url)
    if catalog is None:
        with _open_lock:  # the writer thread and the caller may both open it first
            catalog = _catalogs.get(url)
            if catalog is None:
                catalog = _catalogs[url] = Catalog(url)
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
        catalog = open_catalog(url)
        if full:
            catalog.check_integrity()
        result = rebuild(catalog, Path(settings.artifacts_root), full=full, progress=progress,
                         settings=settings, on_error=skip)
        return {**result, "skipped": list(skipped)}

    try:
        return {**run(), "set_aside": None, "damage": None}
    except CatalogDamagedError as error:
        path = Catalog.sqlite_path(url)
        if not full or path is None:
            raise
        forget_catalog(url)
        aside = set_aside(path)
        return {**run(), "set_aside": aside, "damage": error.reason}


class RunIndexer:
    """Keeps one live run's catalog entry current from its own thread.

    The catalog is an index, so it must never hold up writing events: opening it the first time
    in a process imports SQLAlchemy and may run migrations, which under a CPU-bound training loop
    (every file read waits for the interpreter lock) can take seconds. The writer only calls
    ``request()``; this thread indexes at most every ``interval`` seconds, and ``close()``
    indexes once more, synchronously, so an ended run is always current in the catalog.
    """

    def __init__(self, path: Path, catalog_url: str, interval: float) -> None:
        self.path = Path(path)
        self.catalog_url = catalog_url
        self.interval = interval
        self.errors: list[str] = []
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

    def index_now(self) -> None:
        try:
            index_run(open_catalog(self.catalog_url), self.path)
        except Exception as error:  # noqa: BLE001 - the folder is the record; the index can be rebuilt
            self.errors.append(f"{type(error).__name__}: {error}")

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
        self.index_now()
