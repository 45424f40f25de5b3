"""Append-only run files on an object store: immutable chunks plus an index of committed ranges.

Objects cannot be appended to. Each append of bytes ``[offset, end)`` to a run's file (an event
file, a log, a metric's ``.lbm``) is stored as a new object, and the catalog records which ranges
are committed: ``stream_files`` holds each file's committed length, ``file_chunks`` one row per
chunk. The store is anything fsspec opens (``s3://bucket/prefix`` through s3fs, a local folder)::

    files = ChunkedFiles("s3://ml/labbook", catalog)
    files.append(run, "events/metric/loss/0-1-a.lbm", 0, data)      # -> committed length
    files.append(run, "events/metric/loss/0-1-a.lbm", 0, data)      # a resend: no-op
    files.read(run, "events/metric/loss/0-1-a.lbm")                  # the bytes, in order

Rules (docs/server.md, "Storage on an object store"):

- An append whose bytes are all committed already and equal is a no-op (a retried request).
- Bytes that overlap the committed ones and equal them, followed by new bytes, commit the new
  part only.
- A gap (``offset`` past the committed length) or bytes that differ from the committed ones raise
  ``AppendConflict``, naming the file, the offsets and the fix.
- Commits are a compare-and-set on the file's row (``UPDATE ... WHERE committed = offset``) in
  the same transaction as the chunk's row (unique on run, path, offset): two processes appending
  to one file serialise, and the loser re-reads the state and either finds its bytes committed
  (no-op), appends after the winner, or gets a conflict. The loser's object is deleted.

Chunk objects are named ``chunks/<run>/<path>/<offset>-<end>.<random>``: the random part keeps two
writers of the same range from overwriting each other's object before one of them commits.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.errors import AppendConflict, ConfigError, EventFileError, InvalidValueError, MissingDependencyError

_RETRIES = 64  # commit races lost in a row before giving up (each loss means another writer advanced)


def check_file_path(path: object) -> str:
    """A run-relative file path: '/'-separated, no empty, '.' or '..' part, no backslash or NUL."""
    if not isinstance(path, str) or not path or len(path) > 1024:
        raise InvalidValueError(f"path={path!r:.100} is not a run file path: pass a relative path such as "
                                "'events/metric/loss/0-1-a1b2c3.lbm' (1-1024 characters).")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or "\x00" in path or any(p in ("", ".", "..") for p in parts):
        raise InvalidValueError(f"path={path!r:.100} is not a run file path: it must be relative, '/'-separated, "
                                "without '.', '..', empty parts, backslashes or NUL.")
    return path


def check_run(run_uuid: object) -> str:
    text = str(run_uuid or "")
    if len(text) != 32 or any(c not in "0123456789abcdef" for c in text):
        raise InvalidValueError(f"run_uuid={run_uuid!r:.80} is not a run id: pass its 32 lowercase hex digits.")
    return text


def open_store(root_url: str, storage_options: dict | None = None) -> tuple[Any, str, bool]:
    """(filesystem, base path, is_local) for a store URL: a folder or anything fsspec opens."""
    import fsspec

    text = os.fspath(root_url)
    if "://" not in text:
        text = str(Path(text).expanduser().absolute())
    try:
        fs, base = fsspec.core.url_to_fs(text.rstrip("/") or "/", **(storage_options or {}))
    except ImportError:
        scheme = text.split("://", 1)[0]
        library = {"s3": "s3fs", "gs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}.get(scheme, f"the fsspec driver for {scheme}://")
        raise MissingDependencyError(library, "server", f"The store {text}") from None
    except ValueError as error:
        raise ConfigError(f"Store {text!r}: {error}. Use a folder or an fsspec URL (s3://bucket/prefix, ...).") from None
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    return fs, base.rstrip("/"), "file" in protocols or "local" in protocols


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _pieces(found: list[tuple[int, int, str]], start: int, end: int | None) -> Any:
    """(object, from, to, where in the bytes read) of each chunk of ``found`` for ``[start, end)``."""
    at = 0
    for offset, length, key in found:
        lo = max(start - offset, 0)
        hi = length if end is None else min(end - offset, length)
        yield key, lo, hi, at
        at += hi - lo


def chunk_lost(key: str) -> EventFileError:
    """The error for chunk object ``key`` holding fewer bytes than the catalog's index says."""
    return EventFileError(f"Chunk {key!r} is shorter than the catalog's index says: the store lost part of it. "
                          "Send the run again from where it was logged (labbook sync).")


class _Lost(Exception):
    """Another writer committed first: read the state again."""


class ChunkedFiles:
    """Append-only files of runs, kept as immutable chunk objects under ``root_url`` with their
    committed ranges in ``catalog`` (a ``labbook.catalog.catalog.Catalog`` or an SQLAlchemy engine)."""

    def __init__(self, root_url: str, catalog: Any, storage_options: dict | None = None) -> None:
        self.root_url = os.fspath(root_url)
        self.engine: sa.Engine = getattr(catalog, "engine", catalog)
        self.fs, self.base, self.local = open_store(self.root_url, storage_options)

    # -- objects ------------------------------------------------------------------------------

    def object_path(self, *parts: str) -> str:
        return "/".join((self.base, *parts))

    def put_object(self, key: str, data: bytes) -> None:
        if self.local:
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(key, data)

    def put_objects(self, objects: dict[str, bytes]) -> None:
        """Write several objects (at once on an object store: fsspec sends them concurrently)."""
        if self.local:
            for key in objects:
                self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        if objects:
            self.fs.pipe(objects)

    def get_object(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        return self.fs.cat_file(key, start=start, end=end)

    def delete_object(self, key: str) -> None:
        try:
            self.fs.rm_file(key)
        except FileNotFoundError:
            pass

    # -- the index ----------------------------------------------------------------------------

    def committed(self, run_uuid: str, path: str) -> int:
        """Bytes of ``path`` committed so far (0 for a file never appended to)."""
        S = schema.stream_files
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(S.c.committed).where(
                S.c.run_uuid == check_run(run_uuid), S.c.path == check_file_path(path))).scalar()
        return int(value or 0)

    def files(self, run_uuid: str) -> dict[str, int]:
        """Every file of the run held here, with its committed length."""
        S = schema.stream_files
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(S.c.path, S.c.committed).where(S.c.run_uuid == check_run(run_uuid))
                                .order_by(S.c.path))
            return {path: int(committed) for path, committed in rows}

    def runs(self) -> list[str]:
        """Every run with at least one file here."""
        S = schema.stream_files
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(S.c.run_uuid).distinct().order_by(S.c.run_uuid)).scalars())

    def chunks(self, run_uuid: str, path: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
        """(offset, length, object) of the chunks overlapping ``[start, end)``, in order."""
        C = schema.file_chunks
        query = sa.select(C.c.offset, C.c.length, C.c.object).where(
            C.c.run_uuid == run_uuid, C.c.path == path, C.c.offset + C.c.length > start)
        if end is not None:
            query = query.where(C.c.offset < end)
        with self.engine.connect() as conn:
            return [(int(o), int(n), key) for o, n, key in conn.execute(query.order_by(C.c.offset))]

    # -- reading ------------------------------------------------------------------------------

    def read(self, run_uuid: str, path: str, start: int = 0, end: int | None = None) -> bytes:
        """The committed bytes ``[start, end)`` of ``path`` (``end`` None: to the committed end)."""
        run_uuid, path = check_run(run_uuid), check_file_path(path)
        if start < 0 or (end is not None and end < start):
            raise InvalidValueError(f"Cannot read bytes [{start}, {end}) of {path!r}: pass 0 <= start <= end.")
        found = self.chunks(run_uuid, path, start, end)
        if not found:
            return b""
        blobs = self._fetch([key for _, _, key in found])
        return b"".join(blobs[key][lo:hi] for key, lo, hi, _ in _pieces(found, start, end))

    def read_buffer(self, run_uuid: str, path: str, start: int = 0, end: int | None = None) -> bytearray:
        """``read``'s bytes in a new buffer: from a folder, each chunk is read straight into it
        (no copy of each chunk, then of them all)."""
        if not self.local:
            return bytearray(self.read(run_uuid, path, start, end))
        run_uuid, path = check_run(run_uuid), check_file_path(path)
        if start < 0 or (end is not None and end < start):
            raise InvalidValueError(f"Cannot read bytes [{start}, {end}) of {path!r}: pass 0 <= start <= end.")
        pieces = list(_pieces(self.chunks(run_uuid, path, start, end), start, end))
        buffer = bytearray(pieces[-1][3] + pieces[-1][2] - pieces[-1][1] if pieces else 0)
        view = memoryview(buffer)
        for key, lo, hi, at in pieces:
            with open(key, "rb", buffering=0) as handle:
                if os.preadv(handle.fileno(), [view[at:at + hi - lo]], lo) != hi - lo:
                    raise chunk_lost(key)
        return buffer

    def _fetch(self, keys: list[str]) -> dict[str, bytes]:
        if len(keys) == 1:
            return {keys[0]: self.get_object(keys[0])}
        found = self.fs.cat(keys, on_error="raise")  # fetched concurrently on object stores
        return {key: found[key] if key in found else found[self.fs._strip_protocol(key)] for key in keys}

    # -- appending ----------------------------------------------------------------------------

    def append(self, run_uuid: str, path: str, offset: int, data: bytes) -> int:
        """Commit ``data`` at ``offset`` of ``path``; return the committed length (see the module doc)."""
        run_uuid, path = check_run(run_uuid), check_file_path(path)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise InvalidValueError(f"offset={offset!r} for {path!r}: pass the byte offset the data starts at (>= 0).")
        data = bytes(data)
        for _ in range(_RETRIES):
            committed = self.committed(run_uuid, path)
            if offset > committed:
                raise AppendConflict(run_uuid, path, offset, offset + len(data), committed, "gap")
            end = offset + len(data)
            overlap_end = min(end, committed)
            if overlap_end > offset and self.read(run_uuid, path, offset, overlap_end) != data[:overlap_end - offset]:
                raise AppendConflict(run_uuid, path, offset, end, committed, "changed")
            if end <= committed:
                return committed  # every byte is committed already, and equal: a resend
            new, at = data[committed - offset:], committed
            key = self.object_path("chunks", run_uuid, path, f"{at:020d}-{at + len(new):020d}.{secrets.token_hex(6)}")
            self.put_object(key, new)
            try:
                self._commit(run_uuid, path, at, len(new), key)
            except _Lost:
                self.delete_object(key)
                continue
            return at + len(new)
        raise AppendConflict(run_uuid, path, offset, offset + len(data), self.committed(run_uuid, path), "busy")

    def append_tails(self, run_uuid: str, tails: dict[str, tuple[int, bytes]]) -> None:
        """Commit several files' new bytes, each ``path -> (offset, data)`` at the file's committed
        length as its writer last read it, in one transaction (what a server that holds the run's
        write lock sends after a write). When another writer moved one of the files meanwhile,
        nothing of it is kept, and each file goes through ``append`` (its usual checks) instead."""
        run_uuid = check_run(run_uuid)
        tails = {check_file_path(path): (at, bytes(data)) for path, (at, data) in tails.items() if data}
        if not tails:
            return
        keys = {path: self.object_path("chunks", run_uuid, path, f"{at:020d}-{at + len(data):020d}."
                                       f"{secrets.token_hex(6)}") for path, (at, data) in tails.items()}
        self.put_objects({keys[path]: data for path, (_at, data) in tails.items()})
        try:
            with self.engine.begin() as conn:
                for path, (at, data) in tails.items():
                    self._commit_in(conn, run_uuid, path, at, len(data), keys[path])
        except _Lost:
            for path, (at, data) in tails.items():
                self.delete_object(keys[path])
                self.append(run_uuid, path, at, data)

    def _commit(self, run_uuid: str, path: str, at: int, length: int, key: str) -> None:
        with self.engine.begin() as conn:
            self._commit_in(conn, run_uuid, path, at, length, key)

    @staticmethod
    def _commit_in(conn: sa.Connection, run_uuid: str, path: str, at: int, length: int, key: str) -> None:
        S, C = schema.stream_files, schema.file_chunks
        now = _now()
        try:
            if at == 0:
                conn.execute(S.insert().values(run_uuid=run_uuid, path=path, committed=length, updated_at=now))
            else:
                moved = conn.execute(S.update().where(S.c.run_uuid == run_uuid, S.c.path == path,
                                                      S.c.committed == at)
                                     .values(committed=at + length, updated_at=now)).rowcount
                if moved != 1:
                    raise _Lost()
            conn.execute(C.insert().values(run_uuid=run_uuid, path=path, offset=at, length=length,
                                           object=key, created_at=now))
        except sa.exc.IntegrityError:
            raise _Lost() from None
