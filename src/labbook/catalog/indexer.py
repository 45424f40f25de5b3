"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from labbook.catalog.catalog import Catalog
from labbook.store.layout import RUN_FILE, RunFolder
from labbook.store.record import read_run_record

_RUN_DIR = re.compile(r"^[0-9a-f]{32}$")

_catalogs: dict[str, Catalog] = {}
_open_lock = threading.Lock()


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
) -> dict[str, Any]:
    """Index every run folder under ``artifacts_root``.

    ``full`` clears the catalog first; otherwise only runs whose run.json changed since they
    were indexed are read again, and runs whose folder is gone are removed. Artifact versions,
    tags and lineage are re-read from the artifact store of ``settings`` (default: the current
    home's) every time. ``damaged`` lists the artifact records found empty or cut short, set
    aside as ``*.damaged`` (now or earlier): they are kept for a person to look at.
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
        except (ValueError, KeyError, OSError):
            failed += 1
        if progress:
            progress(number, len(folders))
    removed = [uuid for uuid in known if uuid not in seen]
    if removed:
        catalog.delete_runs(removed)
    from labbook.artifacts.api import reindex_artifacts

    artifacts = reindex_artifacts(catalog, artifacts_root, settings)
    return {"found": len(folders), "indexed": indexed, "failed": failed, "removed": len(removed),
            "damaged": artifacts["damaged"]}


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
