"""The server's side of the sync protocol (``labbook.sync``): the writes and reads of synced runs.

``SyncData`` is the part of ``labbook.server.data.ServerData`` that the sync routes call
(``sync_*``): it finds a run's folder, creates it, answers its manifest, takes appends, records
and blob links, and merges a run.json edited on the server with the one its client sends
(``labbook.sync.merge``). The files are kept by ``labbook.server.ingest`` (the run folders) or,
with an object store, ``labbook.server.stored``; what arrives is indexed into the catalog.
``ServerData`` provides the workspace, the stores and the per-run locks it uses.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labbook.errors import InvalidValueError, NotFoundError

if TYPE_CHECKING:
    import threading

    from labbook.config import Settings
    from labbook.server.data import Access
    from labbook.server.ingest import RunIngest
    from labbook.workspace import Workspace

log = logging.getLogger(__name__)

TILES_MEMORY = 4096  # files whose tiles' upkeep (compact.keep_growing_tiles) is remembered


def _is_series(path: str) -> bool:
    """Whether a synced file is a metric series file (what the worker compacts on a store)."""
    return path.startswith("events/metric/") and path.endswith(".lbm")


def _check_mode(path: str, mode: str) -> None:
    from labbook.sync.protocol import file_mode

    if file_mode(path) != mode:
        raise InvalidValueError(f"path={path!r} is sent as {file_mode(path)!r}, not {mode!r}; "
                                "see the sync protocol in docs/server.md.")


class SyncData:
    """The sync routes' reads and writes (see the module docstring); ``ServerData`` has them."""

    settings: Settings
    workspace: Workspace
    ingest: RunIngest
    _lock: threading.Lock
    _tiling: set[tuple[str, str]]  # metric files whose tiles a background task is keeping now
    _tiles_memory: dict[tuple[str, str], tuple[int, int]]  # compact.keep_growing_tiles' memory

    if TYPE_CHECKING:  # provided by ServerData
        @property
        def store(self) -> Any: ...

        @property
        def stored(self) -> Any: ...

        def _run_lock(self, uuid: str) -> threading.Lock: ...

        def _writing(self, uuid: str) -> Any: ...

        def _later(self, task: Any) -> None: ...

        @staticmethod
        def is_final(status: str) -> bool: ...

    def sync_folder(self, access: Access, uuid: str) -> Any:
        """The server's folder of run ``uuid`` (404 when it has none, or the token may not see it)."""
        from labbook.server.data import check_uuid

        uuid = check_uuid(uuid)
        path = self.workspace.catalog.run_path(uuid)
        folder = None
        project = self.stored.project_of(uuid) if self.stored is not None else None
        if project is not None:
            folder = self.ingest.folder(project, uuid)
        elif path and (Path(path) / "run.json").is_file():
            folder = self.ingest.folder(Path(path).parent.name, uuid)
        else:
            root = Path(self.settings.artifacts_root)
            found = sorted(root.glob(f"*/{uuid}/run.json")) if root.is_dir() else []
            folder = self.ingest.folder(found[0].parent.parent.name, uuid) if found else None
        if folder is None or not access.sees(folder.path.parent.name):
            raise NotFoundError(f"No run {uuid!r} on this server to sync into; create it with "
                                f"PUT /api/v1/sync/runs/{uuid}.")
        return folder

    def sync_create(self, access: Access, uuid: str, project: str, run_json: bytes) -> tuple[Any, bool]:
        """Create run ``uuid``'s folder from its run.json (idempotent): (folder, created)."""
        from labbook.server.data import FULL, check_uuid

        uuid = check_uuid(uuid)
        if not access.sees(project):
            raise NotFoundError(f"This token cannot write to project {project!r}.")
        try:
            existing = self.sync_folder(FULL, uuid)
        except NotFoundError:
            existing = None
        if existing is not None:
            if not access.sees(existing.path.parent.name):
                raise NotFoundError(f"This token cannot write to run {uuid!r}.")
            return existing, False
        if self.stored is not None:
            from labbook.server.ingest import _check_run_json

            _check_run_json(run_json, uuid, project)
            folder = self.ingest.folder(project, uuid)
            self.stored.replace(project, uuid, "run.json", run_json)
            created = True
        else:
            folder, created = self.ingest.create(project, uuid, run_json)
        if created and not self._is_final_record(run_json):  # an ended run sent whole needs none
            (self.stored or self.ingest).write_base(uuid, run_json)
        self._index_synced(folder, run=True)
        return folder, created

    def sync_manifest(self, access: Access, uuid: str, after: str | None = None,
                      limit: int | None = None) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
        """(folder, what the server holds of run ``uuid``: (path, {mode, size, sha256}) by path).
        One keyset page: the files after path ``after``, at most ``limit`` (None: all); only
        those of the page are hashed (a run folder's records and blobs)."""
        folder = self.sync_folder(access, uuid)
        if self._in_store(folder):
            held = sorted(self.stored.manifest(folder.path.name).items())
            files = [item for item in held if after is None or item[0] > after][:limit]
            return folder, files
        return folder, self.ingest.manifest(folder, after, limit)

    def _in_store(self, folder: Any) -> bool:
        """Whether the run is kept in the object store (every run synced since it was set)."""
        return self.stored is not None and self.stored.project_of(folder.path.name) is not None

    def sync_read(self, access: Access, uuid: str, path: str, start: int) -> bytes:
        """The bytes of an append-only file from ``start`` (object store or run folder)."""
        folder = self.sync_folder(access, uuid)
        if self._in_store(folder):
            return self.stored.read(folder.path.name, path, start)
        from labbook.store.layout import safe_join

        target = safe_join(folder.path, path, "path")  # resolved: a symbolic link out is refused
        if not target.is_file():
            raise NotFoundError(f"Run {uuid} has no file {path!r} on this server.")
        with open(target, "rb") as handle:
            if start >= os.fstat(handle.fileno()).st_size:
                return b""  # past the end (a seek past the largest file a disk holds is an OSError)
            handle.seek(start)
            return handle.read()

    def sync_append(self, access: Access, uuid: str, path: str, offset: int, data: bytes) -> int:
        folder = self.sync_folder(access, uuid)
        if self._in_store(folder):
            _check_mode(path, "append")
            committed = self.stored.append(folder.path.parent.name, folder.path.name, path, offset, data)
            if _is_series(path):
                self._compact_if_ended(folder)  # bytes that arrive after the final run.json
                self._keep_tiles_later(folder.path.name, path, offset, committed)
        else:
            committed = self.ingest.append(folder, path, offset, data)
        if path == "lineage.jsonl":
            self._index_synced(folder, lineage=True)
        return committed

    def _keep_tiles_later(self, uuid: str, path: str, offset: int, committed: int) -> None:
        """After an append of a metric file in the store, keep its tiles up to date on the
        background thread once it has grown enough (``compact.tiles_due``), so that the first
        chart of a growing series reads its tiles rather than every chunk. One task per file at
        a time; a failure costs only the tiles (the chart reads the chunks)."""
        from labbook.server import compact

        if not compact.tiles_due(offset, committed):
            return
        key = (uuid, path)
        with self._lock:
            if key in self._tiling:
                return
            self._tiling.add(key)

        def keep() -> None:
            try:
                compact.keep_growing_tiles(self.store, uuid, path, self._tiles_memory)
            except Exception:  # noqa: BLE001 - the tiles are a cache: a chart reads the chunks without them
                log.warning("could not keep the tiles of %s in run %s", path, uuid, exc_info=True)
            finally:
                with self._lock:
                    self._tiling.discard(key)
                    while len(self._tiles_memory) > TILES_MEMORY:
                        del self._tiles_memory[next(iter(self._tiles_memory))]

        self._later(keep)

    def sync_replace(self, access: Access, uuid: str, path: str, data: bytes) -> bytes | None:
        """Replace a record of run ``uuid`` with the client's bytes. run.json edited on the server
        since its client last sent one is merged with it instead (``labbook.sync.merge``): then
        the merged run.json is returned (the client takes it), else None."""
        folder = self.sync_folder(access, uuid)
        stored = self._in_store(folder)
        merged = None
        if path == "run.json":
            from labbook.server.ingest import _check_run_json

            _check_run_json(data, folder.path.name, folder.path.parent.name)
            with self._run_lock(folder.path.name), self._writing(folder.path.name):
                merged = self._merge_run_json(folder, stored, data)
        elif stored:
            _check_mode(path, "replace")
            self.stored.replace(folder.path.parent.name, folder.path.name, path, data)
        else:
            self.ingest.replace(folder, path, data)
        if path == "run.json" or path.startswith("summaries/"):
            if stored:  # what another server took of this run is in the store: the cache gets it first
                self.stored.refresh(folder.path.name, blobs=False)
            self._index_synced(folder, run=True)
        if path == "run.json" and stored:
            self._compact_if_ended(folder)
        return merged

    def _merge_run_json(self, folder: Any, stored: bool, data: bytes) -> bytes | None:
        """Write the client's run.json ``data``, merged with the server's edits since the run.json
        the client sent before (the base, kept beside the run's files), and make ``data`` the
        base. The merged bytes when they differ from ``data``, else None."""
        from labbook.sync.merge import merge_run_json

        project, uuid = folder.path.parent.name, folder.path.name
        keeper = self.stored if stored else self.ingest
        if stored:
            self.stored.refresh_record(uuid, "run.json")  # another replica's edit is the current one
        try:
            current: bytes | None = folder.run_file.read_bytes()
        except FileNotFoundError:
            current = None
        base = keeper.read_base(uuid)
        result = merge_run_json(base, current, data)
        if result != current:
            if stored:
                self.stored.replace(project, uuid, "run.json", result)
            else:
                self.ingest.replace(folder, "run.json", result)
        if result == data and self._is_final_record(data):
            # both sides hold the same ended record: nothing is left to merge (a later edit on the
            # server saves a base again, _keep_base), so the base and the lock file go
            if base is not None:
                keeper.delete_base(uuid)
            if stored:
                self.stored.drop_lock(uuid)
        elif base != data:
            keeper.write_base(uuid, data)
        return result if result != data else None

    def _is_final_record(self, run_json: bytes) -> bool:
        """Whether a run.json's status is a final one (the run ended)."""
        import json

        try:
            return self.is_final(str(json.loads(run_json).get("status")))
        except (ValueError, AttributeError):
            return False

    def _run_json_bytes(self, project: str, uuid: str) -> bytes | None:
        """The run.json of run ``uuid`` as this server's folder holds it (None when it has none)."""
        try:
            return self.ingest.folder(project, uuid).run_file.read_bytes()
        except FileNotFoundError:
            return None

    def _keep_base(self, project: str, uuid: str, before: bytes | None) -> None:
        """After a server-side write of run ``uuid`` (the JSON write routes), whose run.json was
        ``before`` it: when the write changed run.json and the run has no base (it was synced
        before bases were kept, or its base was dropped once it ended), ``before`` becomes the
        base: it is what the run's client last sent, so the client's next run.json is merged
        with this edit instead of replacing it. Call it holding the run's locks."""
        if before is None or self._run_json_bytes(project, uuid) == before:
            return
        keeper = self.stored if self._in_store(self.ingest.folder(project, uuid)) else self.ingest
        if keeper.read_base(uuid) is None:
            keeper.write_base(uuid, before)

    def _compact_if_ended(self, folder: Any) -> None:
        """Queue the compaction of an ended run's series (the worker role does it; a job
        already pending is not queued twice, and one done is queued again when bytes arrive)."""
        if self.stored is not None:  # run.json may have reached another replica: its current version
            self.stored.refresh_record(folder.path.name, "run.json")
        try:
            run_json = folder.run_file.read_bytes()
        except OSError:
            return
        if self._is_final_record(run_json):
            from labbook.server.worker import enqueue_compaction

            enqueue_compaction(self.store, folder.path.name)

    def sync_link(self, access: Access, uuid: str, files: dict[str, str]) -> list[str]:
        """Link each path to its blob; returns the hashes the server does not hold yet."""
        folder = self.sync_folder(access, uuid)
        if self._in_store(folder):
            missing = []
            for path, sha in files.items():
                _check_mode(path, "blob")
                if not self.stored.link(folder.path.parent.name, folder.path.name, path, sha, self.ingest.blob_path(sha)):
                    missing.append(sha)
            return missing
        return [sha for path, sha in files.items() if not self.ingest.link(folder, path, sha)]

    def sync_missing(self, hashes: list[str]) -> list[str]:
        """Of these blob hashes, those the server holds nowhere (its folder, or the object store)."""
        missing = self.ingest.missing(hashes)
        if self.stored is not None:
            missing = [h for h in missing if not self.stored.has_blob(h)]
        return missing

    def sync_part_committed(self, sha256: str) -> int:
        """Bytes of an unfinished upload held here; -1 when the blob is whole (here or in the store).
        Parts are kept by the server that took them: an upload resumed on another replica starts over."""
        committed = self.ingest.part_committed(sha256)
        if committed >= 0 and self.stored is not None and self.stored.has_blob(sha256):
            return -1
        return committed

    def sync_put_part(self, sha256: str, offset: int, size: int, data: bytes) -> tuple[int, bool]:
        committed, complete = self.ingest.put_part(sha256, offset, size, data)
        if complete and self.stored is not None:
            self.stored.put_blob(sha256, self.ingest.blob_path(sha256))
        return committed, complete

    def sync_blob(self, sha256: str) -> Path:
        """A local path to a blob's bytes (fetched from the object store when this server lacks it)."""
        path = self.ingest.blob_path(sha256)
        if not path.is_file() and self.stored is not None:
            self.stored.fetch_blob(sha256, path)
        return self.ingest.read_blob(sha256)

    def sync_artifacts(self, access: Access, uuid: str, records: list[dict[str, Any]],
                       dir_files: dict[str, dict[str, str]] | None = None) -> dict[str, list[str]]:
        """Make each version record logged by run ``uuid`` on a client a version on this server
        (same uid, so its ``store://…@uid`` URI resolves here; numbered by this server)."""
        folder = self.sync_folder(access, uuid)
        from labbook.server.ingest import import_versions

        dir_files = dir_files or {}
        if self.stored is not None:  # bytes another replica took are fetched from the store
            for record in records:
                if not isinstance(record, dict):
                    continue
                wanted = list(dir_files.get(str(record.get("uid")), {}).values()) if record.get("is_dir") \
                    else [record.get("hash")]
                for digest in wanted:
                    if isinstance(digest, str) and not self.ingest.has_blob(digest):
                        try:
                            self.sync_blob(digest)
                        except (NotFoundError, InvalidValueError):
                            pass  # reported as missing by import_versions
        return import_versions(self.settings, self.workspace.catalog, self.ingest, folder, records, dir_files)

    def _index_synced(self, folder: Any, *, run: bool = False, lineage: bool = False) -> None:
        from labbook.catalog.indexer import index_run

        catalog = self.workspace.catalog
        if run:
            index_run(catalog, folder.path)
        if lineage:
            from labbook.catalog.artifacts import index_lineage, lineage_row
            from labbook.store.record import read_lineage

            project, uuid = folder.path.parent.name, folder.path.name
            rows = [lineage_row(project, uuid, r) for r in read_lineage(folder.lineage_file) if r.get("id")]
            try:
                index_lineage(catalog, rows)
            except Exception:  # noqa: BLE001 - another server inserted the same rows first: read again
                index_lineage(catalog, rows)
