"""Synced runs kept whole in an object store (``LABBOOK_STORE``): what makes replicas stateless.

With an object store, every file a client syncs lives there, and the server's local folder of a
run is only a cache, rebuilt from the store whenever it is read (delete it at any time):

- **append-only files** (events of every kind, logs, resources, ``lineage.jsonl``): immutable
  chunks with their committed ranges in the catalog (``labbook.catalog.chunks.ChunkedFiles``);
- **replaced-whole records** (``run.json``, ``summaries/``, ``heartbeat/``): one object per
  version, ``records/<run>/<path>/<sha256>``, and a row of ``stored_files`` naming the current
  one (the row is updated after the object is written, so a reader never sees half a record);
  the previous version's object is deleted once the row has moved;
- **immutable files** (assets, outputs, code): blobs by content, ``blobs/<sha[:2]>/<sha256>``,
  shared by every run, and a row of ``stored_files`` per path.

So two servers on one catalog and one bucket, with no shared folder, serve the same runs: a
read on either asks the catalog what is committed (two queries), and fetches only the bytes its
cache lacks: the tail of an append-only file, a record whose hash changed, a blob not held.

Runs written through the JSON routes (``PUT /runs/{uuid}``, ``POST .../metrics``, ...) are kept
the same way: the server writes its cached folder with ``labbook.tracking.Run``, then ``push``
copies what the folder holds beyond the store into it (the new tail of each append-only file as
a chunk, changed records whole, new immutable files as blobs). A write names the files its writer
touched (``RunWriter.files_written``): its push reads those, run.json, ``lineage.jsonl`` and the
small folders beside ``events/`` (``summaries/``, ``heartbeat/``, ``assets/``, ``outputs/``), and
never lists nor stats the series files of ``events/`` it did not write, so a run of 10,000 series
costs a write of one metric what that metric changed. A run's first push in a process, and the
first after one that failed, walk the whole folder (what a server stopped between a write and
its push left in the cache reaches the store then). Each such write holds the run's
``write_lock`` across every server on the catalog (PostgreSQL: an advisory lock; SQLite: a file
lock beside its database) from the refresh of the cache to the end of the push, so two replicas
writing one run take turns, and each starts from what the other committed.

The cache remembers how far it holds each append-only file (``refresh`` fetches only the files
whose committed length moved since), as long as its run.json is there: a run folder deleted
from the cache is fetched whole again. Files are hashed through one ``FileHashes`` (by inode,
size and mtime, never trusting a file modified within ``RACY_SECONDS`` of its hashing).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.errors import NotFoundError, SyncConflictError
from labbook.store.files import write_atomic
from labbook.store.hashing import FileHashes
from labbook.store.layout import RUN_FILE
from labbook.store.runfile import replace_run_file
from labbook.sync.protocol import APPEND, BLOB, REPLACE, check_sha256, file_mode, iter_files, sha256_bytes

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_HASHES_KEPT = 200_000  # hashes of pushed files remembered (about 60 MB at most)
_RUNS_HELD = 2_000  # runs whose cached append-only files' lengths are remembered (refresh)
_SERIES_DIRS = ("events", "logs", "resources")  # append-only files only their writer names to a push


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _write_cached(target: Path, path: str, data: bytes) -> None:
    """Write a record into a cached run folder; run.json under its lock (``replace_run_file``):
    a run this server keeps open may be applying an update to it (its heartbeat) meanwhile."""
    if path == RUN_FILE:
        replace_run_file(target, data)
    else:
        write_atomic(target, data, durable=False)


class StoredRuns:
    """The files of synced runs in an object store (``chunks``: the server's ``ChunkedFiles``),
    with local caches of run folders under ``root`` (see the module docstring)."""

    def __init__(self, chunks: Any, root: str | os.PathLike[str], local_blob: Any = None) -> None:
        self.chunks = chunks
        self.engine: sa.Engine = chunks.engine
        self.root = Path(root)
        self.local_blob = local_blob  # sha256 -> a local path that may hold the blob (the upload area)
        self._lock_engine: sa.Engine | None = None
        self._hashes = FileHashes(_HASHES_KEPT)
        self._pushed: dict[str, str] = {}  # run -> sha256 of the run.json this process last stored
        self._held: dict[str, dict[str, int]] = {}  # run -> append-only file -> bytes its cached copy holds
        self._trusted: set[str] = set()  # runs whose last push here finished: a write's push may be narrow
        self._guard = threading.Lock()

    # -- the catalog's rows --------------------------------------------------------------------

    def project_of(self, uuid: str) -> str | None:
        """The project of run ``uuid`` when the store holds its run.json, else None."""
        F = schema.stored_files
        with self.engine.connect() as conn:
            return conn.execute(sa.select(F.c.project).where(F.c.run_uuid == uuid, F.c.path == RUN_FILE)).scalar()

    def rows(self, uuid: str, path: str | None = None) -> dict[str, dict[str, Any]]:
        """The run's rows (only ``path``'s when given): path -> {mode, size, sha256, object, project}."""
        F = schema.stored_files
        query = sa.select(F.c.path, F.c.mode, F.c.size, F.c.sha256, F.c.object, F.c.project).where(F.c.run_uuid == uuid)
        if path is not None:
            query = query.where(F.c.path == path)
        with self.engine.connect() as conn:
            found = conn.execute(query)
            return {p: {"mode": m, "size": int(s), "sha256": h, "object": o, "project": pr}
                    for p, m, s, h, o, pr in found}

    def manifest(self, uuid: str) -> dict[str, dict[str, Any]]:
        """What the store holds of a run: path -> {mode, size, sha256 (None for appends)}."""
        files = {p: {"mode": r["mode"], "size": r["size"], "sha256": r["sha256"]} for p, r in self.rows(uuid).items()}
        for path, committed in self.chunks.files(uuid).items():
            files[path] = {"mode": APPEND, "size": committed, "sha256": None}
        return files

    def _put_row(self, uuid: str, project: str, path: str, mode: str, size: int, sha: str, key: str) -> str | None:
        """Point ``path`` at object ``key``; returns the object it pointed at before (or None)."""
        F = schema.stored_files
        values = {"project": project, "mode": mode, "size": size, "sha256": sha, "object": key, "updated_at": _now()}
        for _attempt in range(3):
            with self.engine.begin() as conn:
                where = (F.c.run_uuid == uuid) & (F.c.path == path)
                old = conn.execute(sa.select(F.c.object).where(where)).scalar()
                if old is not None:
                    conn.execute(F.update().where(where).values(**values))
                    return str(old)
                try:
                    conn.execute(F.insert().values(run_uuid=uuid, path=path, **values))
                    return None
                except sa.exc.IntegrityError:  # another server inserted it first: update it then
                    continue
        raise SyncConflictError(f"Could not record {path!r} of run {uuid}: other servers kept changing its row. "
                                "Send it again.")

    # -- objects ----------------------------------------------------------------------------------

    def blob_key(self, sha256: str) -> str:
        check_sha256(sha256)
        return self.chunks.object_path("blobs", sha256[:2], sha256)

    def has_blob(self, sha256: str) -> bool:
        F = schema.stored_files
        with self.engine.connect() as conn:
            if conn.execute(sa.select(F.c.path).where(F.c.sha256 == sha256, F.c.mode == BLOB).limit(1)).first():
                return True
        return bool(self.chunks.fs.exists(self.blob_key(sha256)))

    def put_blob(self, sha256: str, source: Path) -> None:
        """Copy a whole, checked blob (a local file) into the store, unless it is there."""
        key = self.blob_key(sha256)
        if not self.chunks.fs.exists(key):
            self.chunks.put_object(key, Path(source).read_bytes())

    def fetch_blob(self, sha256: str, dest: Path) -> Path:
        """The blob's bytes at ``dest`` (fetched once: blobs never change)."""
        if not dest.is_file():
            try:
                data = self.chunks.get_object(self.blob_key(sha256))
            except FileNotFoundError:
                raise NotFoundError(f"No blob {sha256} on this server.") from None
            dest.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(dest, data, durable=False)
        return dest

    # -- writes -----------------------------------------------------------------------------------

    def append(self, project: str, uuid: str, path: str, offset: int, data: bytes) -> int:
        committed = self.chunks.append(uuid, path, offset, data)
        self._mirror_append(project, uuid, path, offset, data, committed)
        return committed

    def replace(self, project: str, uuid: str, path: str, data: bytes) -> None:
        self._store_record(project, uuid, path, data)
        _write_cached(self.local(project, uuid, path), path, data)

    def _store_record(self, project: str, uuid: str, path: str, data: bytes) -> str:
        sha = sha256_bytes(data)
        key = self.chunks.object_path("records", uuid, path, sha)
        self.chunks.put_object(key, data)
        old = self._put_row(uuid, project, path, REPLACE, len(data), sha, key)
        if old is not None and old != key:
            self.chunks.delete_object(old)
        return sha

    def read_base(self, uuid: str) -> bytes | None:
        """The run.json run ``uuid``'s client last sent (``labbook.sync.merge``), or None."""
        try:
            return bytes(self.chunks.get_object(self.chunks.object_path("bases", uuid)))
        except FileNotFoundError:
            return None

    def write_base(self, uuid: str, data: bytes) -> None:
        self.chunks.put_object(self.chunks.object_path("bases", uuid), data)

    def delete_base(self, uuid: str) -> None:
        self.chunks.delete_object(self.chunks.object_path("bases", uuid))

    def link(self, project: str, uuid: str, path: str, sha256: str, local_blob: Path | None) -> bool:
        """Make ``path`` the blob ``sha256``; False when the store does not hold that blob."""
        if local_blob is not None and local_blob.is_file():
            self.put_blob(sha256, local_blob)
        elif not self.has_blob(sha256):
            return False
        size = local_blob.stat().st_size if local_blob is not None and local_blob.is_file() else \
            int(self.chunks.fs.size(self.blob_key(sha256)))
        self._put_row(uuid, project, path, BLOB, size, sha256, self.blob_key(sha256))
        return True

    def read(self, uuid: str, path: str, start: int = 0) -> bytes:
        """An append-only file's committed bytes from ``start``."""
        return self.chunks.read(uuid, path, start)

    # -- the local cache ----------------------------------------------------------------------------

    def local(self, project: str, uuid: str, path: str = "") -> Path:
        folder = self.root / project / uuid
        target = folder.joinpath(*path.split("/")) if path else folder
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _mirror_append(self, project: str, uuid: str, path: str, offset: int, data: bytes, committed: int) -> None:
        """Bring the cached copy of an append-only file to ``committed`` bytes: from ``data`` when
        it holds the missing bytes, else from the store."""
        target = self.local(project, uuid, path)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size >= committed:
                return
            end = offset + len(data)
            if offset <= size and end == committed:
                missing = memoryview(data)[size - offset:]
            else:
                missing = memoryview(self.chunks.read(uuid, path, size, committed))
            position = size
            while missing:
                written = os.pwrite(fd, missing, position)
                missing, position = missing[written:], position + written
        finally:
            os.close(fd)

    def refresh_record(self, uuid: str, path: str) -> None:
        """Bring one replaced-whole record of the cache to its current version (if it changed)."""
        row = self.rows(uuid, path).get(path)
        if row is None:
            return
        target = self.local(str(row["project"]), uuid, path)
        if self._holds(target, row):
            return
        try:
            _write_cached(target, path, self.chunks.get_object(row["object"]))
        except FileNotFoundError:  # replaced meanwhile: the next call takes the new version
            pass

    def _holds(self, target: Path, row: dict[str, Any]) -> bool:
        """Whether the cached file ``target`` holds ``row``'s bytes (a blob: its size tells)."""
        try:
            stat = target.stat()
        except FileNotFoundError:
            return False
        return stat.st_size == row["size"] and (row["mode"] == BLOB or self._hashes.sha256(target, stat) == row["sha256"])

    def _held_now(self, uuid: str) -> dict[str, int]:
        with self._guard:
            return dict(self._held.get(uuid, ()))

    def _remember(self, uuid: str, held: Mapping[str, int]) -> None:
        """Note how far the cache holds append-only files of run ``uuid`` (never lowering a length)."""
        with self._guard:
            if uuid not in self._held and len(self._held) >= _RUNS_HELD:  # the run noted first goes
                self._held.pop(next(iter(self._held)))
            known = self._held.setdefault(uuid, {})
            for path, size in held.items():
                if size > known.get(path, -1):
                    known[path] = size

    def refresh(self, uuid: str, *, blobs: bool = True) -> Path | None:
        """Bring the cached folder of run ``uuid`` up to what the store holds (only what it
        lacks); None when the store holds no such run. ``blobs=False`` leaves immutable files
        out (what indexing needs is the records and the append-only files)."""
        rows = self.rows(uuid)
        run_row = rows.get(RUN_FILE)
        if run_row is None:
            return None
        project = str(run_row["project"])
        # what the cache was seen to hold, unless its folder went (run.json is never missing otherwise)
        cached = self._held_now(uuid) if (self.root / project / uuid / RUN_FILE).is_file() else {}
        for path, committed in self.chunks.files(uuid).items():
            if cached.get(path, -1) >= committed:  # the cached copy holds it: not even a stat
                continue
            target = self.local(project, uuid, path)
            size = target.stat().st_size if target.is_file() else 0
            if size < committed:
                self._mirror_append(project, uuid, path, size, b"", committed)
            cached[path] = committed
        self._remember(uuid, cached)
        fetch = []
        for path, row in rows.items():
            if row["mode"] == BLOB and not blobs:
                continue
            if not self._holds(self.local(project, uuid, path), row):
                fetch.append((path, row))
        # run.json last: a reader that sees the new run.json sees everything it names
        fetch.sort(key=lambda item: item[0] == RUN_FILE)
        for path, row in fetch:
            held = self.local_blob(row["sha256"]) if row["mode"] == BLOB and self.local_blob else None
            try:
                data = held.read_bytes() if held is not None and held.is_file() else self.chunks.get_object(row["object"])
            except FileNotFoundError:  # replaced meanwhile: the next read takes the new version
                continue
            _write_cached(self.local(project, uuid, path), path, data)
        return self.root / project / uuid

    # -- runs written by this server (the JSON write routes) ---------------------------------------

    @contextlib.contextmanager
    def write_lock(self, uuid: str) -> Any:
        """Hold run ``uuid``'s writing lock across every server on this catalog (see the module
        docstring); threads of one process take turns on it too."""
        if self.engine.dialect.name == "postgresql":
            with self._guard:
                if self._lock_engine is None:  # its own pool: a holder never waits on the catalog's
                    self._lock_engine = sa.create_engine(self.engine.url, pool_size=4, max_overflow=60,
                                                         pool_pre_ping=True)
            key = int(uuid[:15], 16)  # 60 bits: a bigint; the transaction's end releases it, whatever happens
            with self._lock_engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                yield
            return
        with self.file_locks().hold(uuid):
            yield

    def file_locks(self) -> Any:
        """On SQLite, the run lock files (``labbook.server.run_locks``); None on PostgreSQL."""
        from labbook.server.run_locks import FileLocks, lock_folder

        folder = lock_folder(self.engine, self.root)
        return FileLocks(folder) if folder is not None else None

    def drop_lock(self, uuid: str) -> None:
        """Remove run ``uuid``'s lock file (SQLite; the run ended). Only holding ``write_lock``."""
        locks = self.file_locks()
        if locks is not None:
            locks.remove(uuid)

    def close(self) -> None:
        """Close the connections the write locks hold open (at the server's shutdown)."""
        if self._lock_engine is not None:
            self._lock_engine.dispose()

    def written_elsewhere(self, uuid: str) -> bool:
        """Whether the run.json the store holds is not the one this process stored last (another
        server wrote the run since, or this process never did): a run kept open here then holds
        an old copy of it in memory."""
        row = self.rows(uuid, RUN_FILE).get(RUN_FILE)
        return row is not None and self._pushed.get(uuid) != row["sha256"]

    def push(self, project: str, uuid: str, written: Mapping[Path, int | None] | None = None) -> None:
        """Copy into the store what this server's cached folder of run ``uuid`` holds beyond it:
        the new tail of each append-only file (a chunk at the committed offset), each record
        whose bytes differ (run.json last, so a reader that sees it sees what it names), each
        immutable file not stored yet or changed. Call it holding ``write_lock(uuid)``, after a
        refresh: the cache then holds exactly what the store committed plus this server's writes.

        ``written``: the files the write touched, as its writer names them (``RunWriter.files_written``:
        path -> length of an append-only file, None for a record); the push then looks at those
        and at the folders beside ``events/``, not at every series file (see the module docstring).
        Without it, at a run's first push in this process, or after one that did not finish, it
        walks the whole folder (what a process stopped between a write and its push left behind)."""
        folder = self.root / project / uuid
        rows, committed = self.rows(uuid), self.chunks.files(uuid)
        files = self._written(folder, written) if written is not None and uuid in self._trusted else None
        self._trusted.discard(uuid)  # until the store holds all of it
        run_file, tails = None, {}
        for rel, path, mode, size in files if files is not None else self._every_file(folder):
            if mode == APPEND:
                done = committed.get(rel, 0)
                if size is None:
                    try:
                        size = path.stat().st_size
                    except FileNotFoundError:
                        continue
                if size > done:
                    with open(path, "rb") as handle:
                        handle.seek(done)
                        tails[rel] = (done, handle.read(size - done))
            elif rel == RUN_FILE:
                run_file = path
            elif path.is_file():
                self._push_whole(project, uuid, rel, path, mode, rows.get(rel))
        self.chunks.append_tails(uuid, tails)  # one transaction for every file's new tail
        self._remember(uuid, {rel: committed.get(rel, 0) + len(data) for rel, (_at, data) in tails.items()})
        if run_file is not None and run_file.is_file():
            self._pushed[uuid] = self._push_whole(project, uuid, RUN_FILE, run_file, REPLACE, rows.get(RUN_FILE))
        if len(self._trusted) >= _RUNS_HELD:
            self._trusted.clear()  # a bound on memory: each run's next push walks its folder once
        self._trusted.add(uuid)

    @staticmethod
    def _every_file(folder: Path) -> Iterator[tuple[str, Path, str, int | None]]:
        for rel, path, mode in iter_files(folder):
            yield rel, path, mode, None

    @staticmethod
    def _written(folder: Path, written: Mapping[Path, int | None]) -> list[tuple[str, Path, str, int | None]] | None:
        """What a push after a write looks at: the files its writer names (append-only ones at
        the length it wrote), ``lineage.jsonl``, run.json, and every file outside the series
        folders (``events/``, ``logs/``, ``resources/``); None when a named file is not in ``folder``."""
        files: dict[str, tuple[str, Path, str, int | None]] = {}
        for path, size in written.items():
            try:
                rel = Path(path).relative_to(folder).as_posix()
            except ValueError:
                return None
            mode = file_mode(rel)
            if mode is not None:
                files[rel] = (rel, Path(path), mode, size if mode == APPEND else None)
        if not folder.is_dir():
            return None
        for rel, path, mode in iter_files(folder, skip=_SERIES_DIRS):
            files.setdefault(rel, (rel, path, mode, None))
        return list(files.values())

    def _push_whole(self, project: str, uuid: str, rel: str, path: Path, mode: str, row: dict | None) -> str:
        """Store a record or an immutable file unless the store holds these bytes; their SHA-256."""
        sha = self._hashes.sha256(path)
        if row is not None and row["mode"] == mode and row["sha256"] == sha:
            return sha
        if mode == REPLACE:  # its bytes as read now (a heartbeat may have rewritten it since the hash)
            return self._store_record(project, uuid, rel, path.read_bytes())
        self.put_blob(sha, path)
        self._put_row(uuid, project, rel, BLOB, path.stat().st_size, sha, self.blob_key(sha))
        return sha
