"""The artifact store on disk (or any fsspec URL): the record the catalog indexes.

Layout of one project, under the store root (documented in docs/artifacts.md)::

    <store>/<project>/_artifacts/<key>/
        <sha256[:2]>/<sha256><ext>        the bytes: a file, or a folder for a directory artifact
        versions/v000000001.json          one immutable JSON record per version
        versions/v000000002.deleted       a deleted version (keeps its number from being reused)
        tags/<time ns>-<random>.json      append-only tag moves, replayed in name order

``_artifacts`` can never collide with a run folder (32 hex digits). Bytes are content-addressed,
so a new version never overwrites an old one and identical content is stored once. Locally a
blob is a hard link to the logged file where the file system allows (no second copy) and is
made read-only.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
import time
from pathlib import Path
from typing import Any, Iterator

import orjson

from labbook.errors import ConfigError, MissingDependencyError
from labbook.store.names import encode_name

ARTIFACTS_DIR = "_artifacts"
_DRIVERS = {"s3": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs"),
            "az": ("adlfs", "azure"), "abfs": ("adlfs", "azure"), "abfss": ("adlfs", "azure")}
VERSION_SCHEMA = "labbook.artifact"
VERSION_SCHEMA_VERSION = 1


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_NON_STR_KEYS)


def version_file_name(number: int, deleted: bool = False) -> str:
    return f"v{number:09d}.{'deleted' if deleted else 'json'}"


class ArtifactStore:
    """The registry under one root URL: a local folder or anything fsspec opens."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        import fsspec

        text = os.fspath(root)
        if "://" not in text:
            text = str(Path(text).expanduser().absolute())
        self.root = text.rstrip("/") or "/"
        try:
            self.fs, self.base = fsspec.core.url_to_fs(self.root)
        except ImportError:
            scheme = self.root.split("://", 1)[0]
            library, extra = _DRIVERS.get(scheme, (f"the fsspec driver for {scheme}://", "all"))
            raise MissingDependencyError(library, extra, f"The artifact store {self.root}") from None
        except ValueError as error:
            raise ConfigError(f"Artifact store {self.root!r}: {error}. Use a folder or an fsspec URL "
                              "(s3://, gs://, az://, ...).") from None
        self.local = "file" in _protocols(self.fs)
        if self.local:
            self.base = str(Path(self.base))

    # -- paths -------------------------------------------------------------------------------

    def join(self, *parts: str) -> str:
        return "/".join([self.base.rstrip("/"), *parts])

    def url(self, path: str) -> str:
        """A path of this file system as a full URL (a plain path when local)."""
        return path if self.local else self.fs.unstrip_protocol(path)

    def project_dir(self, project: str) -> str:
        return self.join(project, ARTIFACTS_DIR)

    def key_dir(self, project: str, key: str) -> str:
        return self.join(project, ARTIFACTS_DIR, encode_name(key))

    def blob_path(self, base_dir: str, digest: str, ext: str) -> str:
        return f"{base_dir.rstrip('/')}/{digest[:2]}/{digest}{ext}"

    # -- blobs -------------------------------------------------------------------------------

    def put_blob(self, source: Path, dest: str, is_dir: bool) -> bool:
        """Store ``source`` at ``dest`` (a path of this store) unless present; True if written."""
        if self.local:
            return _put_local(Path(source), Path(dest), is_dir)
        if is_dir:
            # Object stores have no atomic folder rename: a "<dest>.complete" object written
            # after the last file marks a whole upload (a partial one is redone, or gc'd).
            if self.fs.exists(f"{dest}.complete"):
                return False
            self.fs.put(str(source), dest, recursive=True)
            self.fs.pipe_file(f"{dest}.complete", b"")
            return True
        if self.fs.exists(dest):
            return False
        self.fs.put_file(str(source), dest)  # object stores write whole objects atomically
        return True

    def remove(self, path: str) -> None:
        if self.local:
            target = Path(path)
            if target.is_dir():
                for folder, _dirs, files in os.walk(target):
                    os.chmod(folder, 0o755)
                    for name in files:
                        with contextlib.suppress(OSError):
                            os.chmod(Path(folder) / name, 0o644)
                shutil.rmtree(target, ignore_errors=True)
            elif target.exists():
                target.unlink()
            return
        for target in (f"{path}.complete", path):  # a folder's marker goes first
            if self.fs.exists(target):
                self.fs.rm(target, recursive=True)

    # -- version records ---------------------------------------------------------------------

    def _listdir(self, path: str) -> list[str]:
        """Base names in ``path`` ([] if absent), fresh from the store."""
        if self.local:
            try:
                return sorted(os.listdir(path))
            except (FileNotFoundError, NotADirectoryError):
                return []
        self.fs.invalidate_cache(path)
        try:
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False))
        except FileNotFoundError:
            return []

    def _read(self, path: str) -> bytes:
        if self.local:
            return Path(path).read_bytes()
        return self.fs.cat_file(path)

    def _write_new(self, path: str, data: bytes) -> bool:
        """Write a new file; False if it already exists (exclusive create where possible)."""
        if self.local:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(path, "xb") as handle:
                    handle.write(data)
            except FileExistsError:
                return False
            return True
        if self.fs.exists(path):
            return False
        self.fs.pipe_file(path, data)
        return True

    def version_numbers(self, project: str, key: str) -> tuple[list[int], list[int]]:
        """(live numbers, deleted numbers) of a key, ascending."""
        live, deleted = [], []
        for name in self._listdir(f"{self.key_dir(project, key)}/versions"):
            if name.startswith("v") and name.endswith(".json"):
                live.append(int(name[1:-5]))
            elif name.startswith("v") and name.endswith(".deleted"):
                deleted.append(int(name[1:-8]))
        return sorted(live), sorted(deleted)

    def read_version(self, project: str, key: str, number: int) -> dict[str, Any]:
        return orjson.loads(self._read(f"{self.key_dir(project, key)}/versions/{version_file_name(number)}"))

    def iter_versions(self, project: str, key: str) -> Iterator[dict[str, Any]]:
        live, _ = self.version_numbers(project, key)
        for number in live:
            try:
                yield self.read_version(project, key, number)
            except (FileNotFoundError, orjson.JSONDecodeError):
                continue  # deleted meanwhile, or torn by a crash: not a version

    def write_version(self, record: dict[str, Any]) -> bool:
        """Write a version record; False when its number is taken (another writer won)."""
        path = f"{self.key_dir(record['project'], record['key'])}/versions/{version_file_name(record['number'])}"
        return self._write_new(path, _dumps(record))

    def mark_deleted(self, project: str, key: str, number: int, uid: str) -> None:
        folder = f"{self.key_dir(project, key)}/versions"
        tombstone = _dumps({"uid": uid, "number": number, "deleted_at": time.time()})
        self._write_new(f"{folder}/{version_file_name(number, deleted=True)}", tombstone)
        self.remove(f"{folder}/{version_file_name(number)}")

    # -- tags --------------------------------------------------------------------------------

    def append_tag_event(self, project: str, key: str, event: dict[str, Any]) -> None:
        name = f"{time.time_ns():020d}-{secrets.token_hex(3)}.json"
        self._write_new(f"{self.key_dir(project, key)}/tags/{name}", orjson.dumps(event))

    def tag_events(self, project: str, key: str) -> list[dict[str, Any]]:
        folder = f"{self.key_dir(project, key)}/tags"
        events = []
        for name in self._listdir(folder):
            if name.endswith(".json"):
                with contextlib.suppress(FileNotFoundError, orjson.JSONDecodeError):
                    events.append(orjson.loads(self._read(f"{folder}/{name}")))
        return events

    # -- scanning ----------------------------------------------------------------------------

    def projects(self) -> list[str]:
        return [p for p in self._listdir(self.base)
                if self._listdir(self.join(p, ARTIFACTS_DIR)) if not p.startswith(".")]

    def key_dirs(self, project: str) -> list[str]:
        return self._listdir(self.project_dir(project))

    def blob_dirs(self, project: str, encoded_key: str) -> list[str]:
        """Paths of every stored blob of a key (files and directory trees)."""
        key_dir = f"{self.project_dir(project)}/{encoded_key}"
        blobs = []
        for shard in self._listdir(key_dir):
            if len(shard) == 2:
                blobs += [f"{key_dir}/{shard}/{name}" for name in self._listdir(f"{key_dir}/{shard}")
                          if ".tmp-" not in name]
        return blobs

    @contextlib.contextmanager
    def lock(self, project: str, key: str) -> Iterator[None]:
        """Serialise version numbering for one key between processes (local stores)."""
        if not self.local:
            yield  # object stores: exclusive creation is best effort, see docs/artifacts.md
            return
        folder = Path(self.key_dir(project, key))
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".lock", "a+b")
        try:
            try:
                import fcntl

                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - Windows
                pass
            yield
        finally:
            handle.close()

    def open(self, location: str, mode: str = "rb"):
        if self.local or "://" not in location:
            return open(location, mode)
        return self.fs.open(self.fs._strip_protocol(location), mode)


def _protocols(fs) -> tuple[str, ...]:
    protocol = fs.protocol
    return tuple(protocol) if isinstance(protocol, (tuple, list)) else (protocol,)


def _read_only(path: Path) -> None:
    mode = path.stat().st_mode
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


_FICLONE = 0x40049409  # Linux: share the blocks copy-on-write (btrfs, XFS): no copy, no shared inode


def _clone(source: Path, dest: Path) -> bool:
    try:
        import fcntl

        with open(source, "rb") as src, open(dest, "xb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        shutil.copystat(source, dest)
        return True
    except (OSError, ImportError):
        dest.unlink(missing_ok=True)
        return False


def _link_or_copy(source: Path, dest: Path) -> None:
    """A copy-on-write clone, else a hard link, else (another file system) one copy."""
    if _clone(source, dest):
        return
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def blob_fingerprint(path: str) -> dict[str, int]:
    """What changes if a stored file is rewritten in place (through a hard link, say)."""
    st = os.stat(path)
    return {"ino": st.st_ino, "mtime_ns": st.st_mtime_ns, "size": st.st_size}


def _put_local(source: Path, dest: Path, is_dir: bool) -> bool:
    if dest.exists():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.tmp-{secrets.token_hex(4)}")
    if is_dir:
        from labbook.artifacts.hashing import iter_tree

        tmp.mkdir()
        for path in iter_tree(source):
            target = tmp / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(path, target)
            _read_only(target)
    else:
        _link_or_copy(source, tmp)
        _read_only(tmp)
    try:
        os.rename(tmp, dest)
    except OSError:
        if dest.exists():  # another writer stored the same content first
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink()
            return False
        raise
    return True
