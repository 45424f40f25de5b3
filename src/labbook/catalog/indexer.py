"""Keeping the catalog in step with the run folders, and rebuilding it from them."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable, Iterator

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
) -> dict[str, int]:
    """Index every run folder under ``artifacts_root``.

    ``full`` clears the catalog first; otherwise only runs whose run.json changed since they
    were indexed are read again, and runs whose folder is gone are removed. Artifact versions,
    tags and lineage are re-read from the artifact store of ``settings`` (default: the current
    home's) every time.
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

    reindex_artifacts(catalog, artifacts_root, settings)
    return {"found": len(folders), "indexed": indexed, "failed": failed, "removed": len(removed)}
