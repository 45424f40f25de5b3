"""The artifact store on disk (or any fsspec URL): the record the catalog indexes.

Layout of one project, under the store root (documented in docs/artifacts.md)::

    <store>/<project>/_artifacts/<key>/
        <sha256[:2]>/<sha256><ext>        the bytes: a file, or a folder for a directory artifact
        versions/v000000001.json          one immutable JSON record per version
        versions/v000000002.deleted       a deleted version (keeps its number from being reused)
        versions/v000000003.damaged       a record found empty or cut short, set aside (number kept)
        tags/<time ns>-<random>.json      append-only tag moves, replayed in name order

``_artifacts`` can never collide with a run folder (32 hex digits). Bytes are content-addressed,
so a new version never overwrites an old one and identical content is stored once. Locally a
blob is a hard link to the logged file where the file system allows (no second copy) and is
made read-only.

Records are written atomically (``labbook.store.files.write_atomic``: temporary file, fsync,
link or rename), so a crash or a full disk never leaves a partial one. A record that is
damaged anyway (written by an older version, cut short by a copy) is set aside as
``.damaged`` by the next writer of its key and by ``labbook index --rebuild``, which report it.
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

from labbook._optional import install_hint
from labbook.errors import ConfigError, MissingDependencyError
from labbook.store.files import DAMAGED_SUFFIX, file_lock, link_or_copy, set_aside, temporary_name, write_atomic
from labbook.store.names import check_component, check_extension, encode_name

ARTIFACTS_DIR = "_artifacts"
_DRIVERS = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}
VERSION_SCHEMA = "labbook.artifact"
MAX_NUMBER_RETRIES = 20  # attempts at the next version number of a key when writers race for it
VERSION_SCHEMA_VERSION = 1
_REQUIRED = ("schema", "project", "key", "kind", "number", "uid", "hash", "size", "created_at")


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
                        | orjson.OPT_NON_STR_KEYS)


def version_file_name(number: int, deleted: bool = False) -> str:
    return f"v{number:09d}.{'deleted' if deleted else 'json'}"


def _version_number(name: str) -> tuple[int, str] | None:
    """(number, state) of a file in versions/: state is json, deleted or damaged."""
    stem, _, suffix = name.partition(".")
    if not (stem.startswith("v") and stem[1:].isdigit()):
        return None
    state = suffix.split("-", 1)[0]  # "damaged-1a2b3c" when set aside twice
    return (int(stem[1:]), state) if state in ("json", "deleted", "damaged") else None


def _sound_record(data: bytes, number: int | None = None) -> dict[str, Any] | None:
    """The record in ``data``, or None when it is empty, cut short or not a version record."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or any(field not in record for field in _REQUIRED):
        return None
    if number is not None and record.get("number") != number:
        return None
    return record


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
            driver = _DRIVERS.get(scheme)
            library, extra = install_hint(driver) if driver else (f"the fsspec driver for {scheme}://", "all")
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
        return self.join(check_component(project, "project"), ARTIFACTS_DIR)

    def key_dir(self, project: str, key: str) -> str:
        return f"{self.project_dir(project)}/{check_component(encode_name(key), 'artifact key')}"

    def blob_path(self, base_dir: str, digest: str, ext: str) -> str:
        name = check_component(f"{digest}{'.' + check_extension(ext) if ext else ''}", "blob name")
        return f"{base_dir.rstrip('/')}/{check_component(digest[:2], 'blob shard')}/{name}"

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
            local = Path(path)
            if local.is_dir():
                for folder, _dirs, files in os.walk(local):
                    os.chmod(folder, 0o755)
                    for name in files:
                        with contextlib.suppress(OSError):
                            os.chmod(Path(folder) / name, 0o644)
                shutil.rmtree(local, ignore_errors=True)
            elif local.exists():
                local.unlink()
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
        """Write a new file all at once; False if it already exists (exclusive where possible)."""
        if self.local:
            return write_atomic(path, data, exclusive=True)
        if self.fs.exists(path):
            return False
        self.fs.pipe_file(path, data)  # object stores write whole objects atomically
        return True

    def _set_aside(self, path: str) -> str | None:
        """Rename a damaged record out of the readers' way (see the module docstring)."""
        if self.local:
            moved = set_aside(path)
            return None if moved is None else str(moved)
        target = f"{path.rsplit('.', 1)[0]}{DAMAGED_SUFFIX}-{secrets.token_hex(3)}"
        try:
            self.fs.mv(path, target)
        except FileNotFoundError:
            return None
        return self.url(target)

    def version_numbers(self, project: str, key: str) -> tuple[list[int], list[int]]:
        """(live numbers, numbers taken otherwise: deleted or set aside as damaged), ascending."""
        live: set[int] = set()
        taken: set[int] = set()
        for name in self._listdir(f"{self.key_dir(project, key)}/versions"):
            parsed = _version_number(name)
            if parsed is not None:
                (live if parsed[1] == "json" else taken).add(parsed[0])
        return sorted(live), sorted(taken - live)

    def read_version(self, project: str, key: str, number: int) -> dict[str, Any]:
        """The record of version ``number``; ``DamagedRecordError`` if it is empty or cut short."""
        path = f"{self.key_dir(project, key)}/versions/{version_file_name(number)}"
        record = _sound_record(self._read(path), number)
        if record is None:
            raise DamagedRecordError(path)
        return record

    def read_version_or_set_aside(self, project: str, key: str, number: int,
                                  set_aside: list[str] | None) -> dict[str, Any] | None:
        """The record of version ``number``; None when it is gone or damaged. A damaged one is
        set aside when ``set_aside`` is a list (its new location is appended to it)."""
        try:
            return self.read_version(project, key, number)
        except FileNotFoundError:
            return None  # deleted meanwhile
        except DamagedRecordError as error:
            if set_aside is not None:
                moved = self._set_aside(error.path)
                if moved is not None:
                    set_aside.append(moved)
            return None

    def latest_version(self, project: str, key: str,
                       set_aside: list[str] | None = None) -> tuple[dict[str, Any] | None, int]:
        """(the newest sound record or None, the highest number ever taken), setting aside the
        damaged records met on the way when ``set_aside`` is a list. Call under ``lock``."""
        live, taken = self.version_numbers(project, key)
        highest = max(live + taken, default=0)
        for number in reversed(live):
            record = self.read_version_or_set_aside(project, key, number, set_aside)
            if record is not None:
                return record, highest
        return None, highest

    def iter_versions(self, project: str, key: str,
                      set_aside: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every sound record of a key, oldest first (damaged ones skipped, or set aside)."""
        live, _ = self.version_numbers(project, key)
        for number in live:
            record = self.read_version_or_set_aside(project, key, number, set_aside)
            if record is not None:
                yield record

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

    def tag_events(self, project: str, key: str, set_aside: list[str] | None = None) -> list[dict[str, Any]]:
        """Every tag move of a key in order; damaged ones skipped (or set aside, as versions)."""
        folder = f"{self.key_dir(project, key)}/tags"
        events = []
        for name in self._listdir(folder):
            if name.endswith(".json") and not name.startswith("."):
                try:
                    event = orjson.loads(self._read(f"{folder}/{name}"))
                except FileNotFoundError:
                    continue
                except orjson.JSONDecodeError:
                    event = None
                if isinstance(event, dict) and "tag" in event and "op" in event:
                    events.append(event)
                elif set_aside is not None:
                    moved = self._set_aside(f"{folder}/{name}")
                    if moved is not None:
                        set_aside.append(moved)
        return events

    def damaged_records(self, project: str, key: str) -> list[str]:
        """Locations of the records of a key that were set aside as damaged."""
        found = []
        for folder in (f"{self.key_dir(project, key)}/versions", f"{self.key_dir(project, key)}/tags"):
            found += [self.url(f"{folder}/{name}") for name in self._listdir(folder) if DAMAGED_SUFFIX in name]
        return found

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
        with file_lock(folder / ".lock"):
            yield

    def open(self, location: str, mode: str = "rb") -> Any:
        if self.local or "://" not in location:
            return open(location, mode)
        return self.fs.open(self.fs._strip_protocol(location), mode)


class DamagedRecordError(ValueError):
    """A record file is empty, cut short or not a record (internal: callers set it aside)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path} is empty or cut short")
        self.path = path


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return tuple(protocol) if isinstance(protocol, (tuple, list)) else (protocol,)


def _read_only(path: Path) -> None:
    mode = path.stat().st_mode
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def blob_fingerprint(path: str) -> dict[str, int]:
    """What changes if a stored file is rewritten in place (through a hard link, say)."""
    st = os.stat(path)
    return {"ino": st.st_ino, "mtime_ns": st.st_mtime_ns, "size": st.st_size}


def _put_local(source: Path, dest: Path, is_dir: bool) -> bool:
    if dest.exists():
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dest)
    try:
        if is_dir:
            from labbook.store.hashing import iter_tree

            tmp.mkdir()
            for path in iter_tree(source):
                target = tmp / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                link_or_copy(path, target)
                _read_only(target)
        else:
            link_or_copy(source, tmp)
            _read_only(tmp)
        os.rename(tmp, dest)
    except BaseException as error:
        _discard(tmp)  # a full disk, say: no partial blob stays behind
        if isinstance(error, OSError) and dest.exists():  # another writer stored it first
            return False
        raise
    return True


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for folder, _dirs, _files in os.walk(path):
            os.chmod(folder, 0o755)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
