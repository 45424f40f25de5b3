"""The server's side of sync: run folders rebuilt from what clients send (docs/server.md).

``RunIngest`` keeps, for the server's store, the three kinds of files of the sync protocol
(``labbook.sync.protocol``): append-only files by offset, small records replaced whole, and
immutable files by content hash (a blob store shared by every run: bytes the server holds are
never sent again). What arrives is indexed into the catalog, so every read route sees it.

Everything is in the store and the catalog, nothing in the process: two servers on one folder
(and one catalog) accept writes for the same run. Appends take an exclusive ``flock`` on the
file they extend, so the check "offset = committed length" and the write are one step across
processes; blobs are written under a temporary name and renamed, so a blob is whole or absent.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from labbook._time import parse_time
from labbook.errors import AppendConflict, InvalidValueError, NotFoundError, PathEscapeError, SyncConflictError
from labbook.store.files import temporary_name, write_atomic
from labbook.store.layout import RUN_FILE, RunFolder
from labbook.sync.protocol import (
    APPEND,
    BLOB,
    REPLACE,
    check_rel_path,
    check_sha256,
    file_mode,
    iter_files,
    sha256_file,
)

SYNC_DIR = ".sync"  # under the run folders' root; a leading '.' is never a project
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class RunIngest:
    """Run folders and blobs under ``root`` (the server's run folders' root)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.blobs = self.root / SYNC_DIR / "blobs"
        self.parts = self.root / SYNC_DIR / "parts"
        self.bases = self.root / SYNC_DIR / "bases"

    # -- the run.json each client last sent (labbook.sync.merge) ----------------------------

    def read_base(self, uuid: str) -> bytes | None:
        try:
            return (self.bases / uuid).read_bytes()
        except FileNotFoundError:
            return None

    def write_base(self, uuid: str, data: bytes) -> None:
        self.bases.mkdir(parents=True, exist_ok=True)
        write_atomic(self.bases / uuid, data, durable=False)

    def delete_base(self, uuid: str) -> None:
        (self.bases / uuid).unlink(missing_ok=True)

    # -- runs -------------------------------------------------------------------------------

    def folder(self, project: str, uuid: str) -> RunFolder:
        from labbook.store.names import check_component

        return RunFolder(self.root / check_component(project, "project") / uuid)

    def create(self, project: str, uuid: str, run_json: bytes) -> tuple[RunFolder, bool]:
        """Make the run folder with its first run.json unless it exists: (folder, created)."""
        folder = self.folder(project, uuid)
        if folder.run_file.is_file():
            return folder, False
        _check_run_json(run_json, uuid, project)
        folder.path.mkdir(parents=True, exist_ok=True)
        created = write_atomic(folder.run_file, run_json, exclusive=True, durable=False)
        return folder, created

    def manifest(self, folder: RunFolder, after: str | None = None,
                 limit: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """What the server holds of a run, by path: (path, {mode, size, sha256 (not for
        appends)}), the paths after ``after`` only, at most ``limit`` (None: all); only the
        files of the page are hashed."""
        found = sorted(iter_files(folder.path, after))
        return [(rel, {"mode": mode, "size": path.stat().st_size,
                       "sha256": None if mode == APPEND else sha256_file(path)})
                for rel, path, mode in found[:limit]]

    def append(self, folder: RunFolder, rel_path: str, offset: int, data: bytes) -> int:
        """Append ``data`` at ``offset`` of an append-only file; returns the committed length.

        Bytes the file already holds are compared, not written again (a resend is a no-op); an
        offset past the end (a gap) or different bytes raise ``AppendConflict`` (the same rules
        as ``labbook.catalog.chunks.ChunkedFiles.append`` on an object store)."""
        path = self._target(folder, rel_path, APPEND)
        if offset < 0:
            raise InvalidValueError(f"offset={offset} is negative. Pass the byte offset to append at.")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            committed = os.fstat(fd).st_size
            if offset > committed:
                raise AppendConflict(folder.path.name, rel_path, offset, offset + len(data), committed, "gap")
            overlap = min(committed - offset, len(data))
            if overlap and os.pread(fd, overlap, offset) != data[:overlap]:
                raise AppendConflict(folder.path.name, rel_path, offset, offset + len(data), committed, "changed")
            rest = memoryview(data)[overlap:]
            position = committed
            while rest:
                written = os.pwrite(fd, rest, position)
                rest, position = rest[written:], position + written
            return max(committed, offset + len(data))
        finally:
            os.close(fd)

    def replace(self, folder: RunFolder, rel_path: str, data: bytes) -> None:
        """Write a replaced-whole record (run.json, summaries, heartbeats) at once."""
        path = self._target(folder, rel_path, REPLACE)
        if rel_path == RUN_FILE:
            _check_run_json(data, folder.path.name, folder.path.parent.name)
        write_atomic(path, data, durable=False)

    def link(self, folder: RunFolder, rel_path: str, sha256: str) -> bool:
        """Make ``rel_path`` the blob ``sha256`` (a hard link where possible); False when the
        server does not hold that blob yet."""
        source = self.blob_path(sha256)
        if not source.is_file():
            return False
        path = self._target(folder, rel_path, BLOB)
        if path.is_file() and not path.is_symlink() and sha256_file(path) == sha256:
            return True
        tmp = temporary_name(path)
        try:
            os.link(source, tmp)
        except OSError:
            from labbook.store.files import copy_file

            copy_file(source, tmp)
        try:
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return True

    def _target(self, folder: RunFolder, rel_path: str, mode: str) -> Path:
        check_rel_path(rel_path)
        if file_mode(rel_path) != mode:
            raise InvalidValueError(f"path={rel_path!r} is sent as {file_mode(rel_path)!r}, not {mode!r}; "
                                    "see the sync protocol in docs/server.md.")
        if not folder.run_file.is_file() and rel_path != RUN_FILE:
            raise NotFoundError(f"No run folder for run {folder.path.name} on this server: create it first "
                                f"(PUT /api/v1/sync/runs/{folder.path.name}).")
        path = folder.path.joinpath(*rel_path.split("/"))
        folder.make_dirs(path.parent)  # through no symbolic link
        if path.is_symlink():
            raise PathEscapeError(f"{rel_path} is a symbolic link on the server; it is never written through.")
        return path

    # -- blobs ------------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.blobs / sha256[:2] / sha256

    def has_blob(self, sha256: str) -> bool:
        return self.blob_path(sha256).is_file()

    def missing(self, hashes: list[str]) -> list[str]:
        return [h for h in dict.fromkeys(hashes) if not self.has_blob(h)]

    def part_committed(self, sha256: str) -> int:
        """Bytes of an unfinished upload of ``sha256`` the server holds (resume from there)."""
        if self.has_blob(sha256):
            return -1
        part = self.parts / sha256
        return part.stat().st_size if part.is_file() else 0

    def put_part(self, sha256: str, offset: int, size: int, data: bytes) -> tuple[int, bool]:
        """Add a part of blob ``sha256`` (``size`` bytes in all) at ``offset``: (committed,
        complete). The last part checks the hash and moves the blob into place whole."""
        check_sha256(sha256)
        if self.has_blob(sha256):
            return size, True
        if size < 0 or offset < 0 or offset + len(data) > size:
            raise InvalidValueError(f"A part at offset {offset} of {len(data)} bytes does not fit a blob of "
                                    f"size={size}. Send parts inside the blob's size.")
        self.parts.mkdir(parents=True, exist_ok=True)
        part = self.parts / sha256
        fd = os.open(part, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if self.has_blob(sha256):  # another process finished it meanwhile
                return size, True
            committed = os.fstat(fd).st_size
            if offset > committed:
                raise SyncConflictError(f"Blob {sha256[:12]}…: part at offset {offset} leaves a gap after the "
                                        f"{committed} bytes held. Resume from offset {committed}.")
            keep = data[committed - offset:] if committed > offset else data
            if keep:
                os.pwrite(fd, keep, committed)
            committed = max(committed, offset + len(data))
            if committed < size:
                return committed, False
            digest = _sha256_fd(fd, size)
            if digest != sha256:
                os.ftruncate(fd, 0)
                raise SyncConflictError(f"Blob {sha256[:12]}…: the {size} bytes received hash to {digest[:12]}…, "
                                        "not to the blob's name. The upload was discarded; send it again.")
            target = self.blob_path(sha256)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(part, 0o444)  # linked into run folders: never changed in place
            os.replace(part, target)
            return size, True
        finally:
            os.close(fd)

    def read_blob(self, sha256: str) -> Path:
        path = self.blob_path(sha256)
        if not path.is_file():
            raise NotFoundError(f"No blob {sha256} on this server.")
        return path


def _sha256_fd(fd: int, size: int) -> str:
    digest, position = hashlib.sha256(), 0
    while position < size:
        block = os.pread(fd, min(1 << 20, size - position), position)
        if not block:
            break
        digest.update(block)
        position += len(block)
    return digest.hexdigest()


_RUN_TIMES = ("created_at", "started_at", "finished_at", "heartbeat_at")


def _is_time(value: Any) -> bool:
    try:
        return isinstance(value, str) and parse_time(value) is not None
    except ValueError:
        return False


def _check_run_json(data: bytes, uuid: str, project: str) -> dict[str, Any]:
    from labbook.store.runfile import RUN_FORMAT

    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise InvalidValueError(f"run_json is not a labbook run file (JSON with \"format\": {RUN_FORMAT!r}). "
                                "Send the run folder's run.json as it is.")
    if not isinstance(record.get("created_at"), str):
        raise InvalidValueError("run_json has no created_at time; send the run folder's run.json as it is.")
    for field in _RUN_TIMES:  # the catalog reads them as times: one that is none would fail it later
        value = record.get(field)
        if value is not None and not _is_time(value):
            raise InvalidValueError(f"run_json.{field} is {value!r}, not an ISO 8601 time "
                                    "(2026-12-01T09:30:00+00:00). Send the run folder's run.json as it is.")
    if record.get("uuid") != uuid or record.get("project") != project:
        raise InvalidValueError(f"run_json names run {record.get('uuid')!r} of project {record.get('project')!r}, "
                                f"not {uuid!r} of {project!r}. Send this run's own run.json.")
    return record


def import_versions(settings: Any, catalog: Any, ingest: RunIngest, folder: RunFolder,
                    records: list[dict[str, Any]], dir_files: dict[str, dict[str, str]] | None = None
                    ) -> dict[str, list[str]]:
    """Make artifact version records logged on a client versions of this server's artifact store.

    A version keeps its uid (so ``store://…@uid`` resolves here) and takes this server's next
    number of its key; a uid the server has is left as it is (a resend is a no-op). Its bytes
    must be a blob the server holds (``missing`` lists the hashes to send first). A directory
    version comes with ``dir_files[uid]`` (path inside it -> blob hash): the folder is rebuilt
    from those blobs and must hash to the record's hash; without it the version is ``skipped``.
    ``catalog`` (the server's, open) indexes the new versions."""
    from labbook.catalog.artifacts import index_versions
    from labbook.store.blobs import MAX_NUMBER_RETRIES, VERSION_SCHEMA, ArtifactStore, blob_fingerprint
    from labbook.store.names import encode_name
    from labbook.store.policy import store_root
    from labbook.store.uri import check_key

    project = folder.path.parent.name
    store = ArtifactStore(store_root(settings))
    result: dict[str, list[str]] = {"imported": [], "existing": [], "missing": [], "skipped": []}
    indexed = []
    for index, record in enumerate(records):
        if not isinstance(record, dict) or record.get("schema") != VERSION_SCHEMA or record.get("project") != project:
            raise InvalidValueError(f"versions.{index} is not a version record of project {project!r}. "
                                    "Send the records of the run's own artifact versions.")
        key, uid, digest = check_key(record.get("key")), str(record.get("uid")), record.get("hash")
        is_dir = bool(record.get("is_dir"))
        check_sha256(digest)
        files = (dir_files or {}).get(uid) if is_dir else None
        if is_dir and not files:
            result["skipped"].append(uid)  # a client that does not send directories yet
            continue
        needed = list(_check_tree(files, uid).values()) if files else [digest]
        lacking = [h for h in dict.fromkeys(needed) if not ingest.has_blob(h)]
        if lacking:
            result["missing"] += lacking
            continue
        ext = record.get("ext") or ""
        blob = store.blob_path(store.key_dir(project, key), digest, ext.lstrip("."))
        with store.lock(project, key):
            if any(v.get("uid") == uid for v in store.iter_versions(project, key)):
                result["existing"].append(uid)
                continue
            if files:
                _put_tree(store, ingest, files, digest, blob, uid)
            else:
                store.put_blob(ingest.blob_path(digest), blob, False)
            for _attempt in range(MAX_NUMBER_RETRIES):
                _latest, highest = store.latest_version(project, key, set_aside=[])
                placed = {k: v for k, v in record.items() if k not in ("url", "blob_stat")}
                placed.update(number=highest + 1, blob=f"{encode_name(key)}/{digest[:2]}/{digest}{ext}")
                if store.local and not is_dir:
                    placed["blob_stat"] = blob_fingerprint(blob)
                if store.write_version(placed):
                    indexed.append(placed)
                    result["imported"].append(uid)
                    break
    if indexed:
        index_versions(catalog, indexed)
    return result


def _check_tree(files: Any, uid: str) -> dict[str, str]:
    """A directory version's map of files: relative '/'-paths of safe names -> SHA-256."""
    from labbook.store.names import check_component

    if not isinstance(files, dict):
        raise InvalidValueError(f"dir_files.{uid} is not a map of path -> sha256. Send the directory's files.")
    for rel, digest in files.items():
        parts = str(rel).split("/")
        if not rel or any(p in ("", ".", "..") for p in parts):
            raise PathEscapeError(f"dir_files.{uid}: {str(rel)[:80]!r} is not a path inside the directory.")
        for part in parts:
            check_component(part, "path component")
        check_sha256(digest)
    return files


def _put_tree(store: Any, ingest: RunIngest, files: dict[str, str], digest: str, blob: str, uid: str) -> None:
    """Rebuild a directory version from its files' blobs, check its hash, and store it."""
    import shutil
    import tempfile

    from labbook.store.files import link_or_copy
    from labbook.store.hashing import hash_dir

    ingest.parts.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="dir-", dir=ingest.parts))
    try:
        for rel, sha in files.items():
            target = tree.joinpath(*rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(ingest.blob_path(sha), target)
        found = hash_dir(tree)[0]
        if found != digest:
            raise SyncConflictError(f"Directory version {uid}: its {len(files)} files hash to {found[:12]}…, not to "
                                    f"the record's {digest[:12]}…. Send the directory's files as they were logged.")
        store.put_blob(tree, blob, True)
    finally:
        for path, _dirs, _names in os.walk(tree):
            os.chmod(path, 0o755)
        shutil.rmtree(tree, ignore_errors=True)
