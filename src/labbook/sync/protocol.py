"""What the sync protocol knows about a run folder: which files go how.

A run folder (docs/format.md) holds three kinds of files, and each travels its own way:

* **append-only** (``events/**.lbm``, ``events/**.jsonl``, ``logs/``, ``resources/*.lbr``,
  ``resources/**.lbm`` of earlier versions, ``lineage.jsonl``): sent by offset. The server
  reports how many bytes it has committed; resending bytes it holds is a no-op, a gap or
  different bytes is a conflict.
* **replaced whole** (``run.json``, ``summaries/*.json``, ``heartbeat/*.json``): small records
  rewritten in place by the writer; sent as data when their hash changes. A run.json edited on
  the server since its client last sent one is merged with it there, field by field
  (``labbook.sync.merge``), and the client takes the merged one.
* **immutable by content** (``assets/``, ``outputs/``, ``code/``, anything else): sent once per
  content hash. The server keeps blobs by SHA-256; bytes it holds are never sent again, a file
  is linked to a blob it already has.

Lock files and in-progress temporary files (``.<name>.tmp-…``) are never part of the record and
never sent.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from typing import Collection, Iterator

from labbook.errors import PathEscapeError
from labbook.store.layout import JSONL_EXT, METRIC_EXT, RESOURCES_EXT
from labbook.store.names import check_component

APPEND, REPLACE, BLOB = "append", "replace", "blob"
MODES = (APPEND, REPLACE, BLOB)
PART_SIZE = 8 * 1024 * 1024  # bytes per request for appends and blob parts
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_REPLACED_DIRS = ("summaries", "heartbeat")
_APPEND_DIRS = ("events", "logs", "resources")
_APPEND_EXTS = (METRIC_EXT, JSONL_EXT, RESOURCES_EXT)


def file_mode(rel_path: str) -> str | None:
    """How ``rel_path`` (relative to the run folder, with ``/``) travels; None: never sent."""
    parts = rel_path.split("/")
    name = parts[-1]
    if name.endswith(".lock") or (name.startswith(".") and ".tmp-" in name) or name.startswith(".nfs"):
        return None
    if rel_path in ("run.json",):
        return REPLACE
    if rel_path == "lineage.jsonl":
        return APPEND
    if len(parts) > 1 and parts[0] in _REPLACED_DIRS:
        return REPLACE
    if len(parts) > 1 and parts[0] in _APPEND_DIRS and name.endswith(_APPEND_EXTS):
        return APPEND
    return BLOB


def check_rel_path(rel_path: str) -> str:
    """A path inside a run folder as the protocol carries it: relative, ``/``-separated, every
    component a safe name (no ``..``, no separators, no NUL), and a file the protocol sends."""
    if not isinstance(rel_path, str) or not rel_path or len(rel_path) > 4096:
        raise PathEscapeError(f"path={str(rel_path)[:80]!r} is not a path inside a run folder. "
                              "Pass it relative to the run folder, with '/' between parts.")
    pure = PurePosixPath(rel_path)
    if "\\" in rel_path or pure.is_absolute() or pure.as_posix() != rel_path:
        raise PathEscapeError(f"path={rel_path[:80]!r} is not a plain relative path. "
                              "Pass it relative to the run folder, with '/' between parts.")
    for part in pure.parts:
        check_component(part, "path component")
    if file_mode(rel_path) is None:
        raise PathEscapeError(f"path={rel_path[:80]!r} is a lock or temporary file; it is never synced.")
    return rel_path


def check_sha256(value: str) -> str:
    if not isinstance(value, str) or not SHA256.match(value):
        from labbook.errors import InvalidValueError

        raise InvalidValueError(f"sha256={str(value)[:80]!r} is not a SHA-256 digest. "
                                "Pass 64 lowercase hex digits.")
    return value


def iter_files(folder: Path, after: str | None = None, skip: Collection[str] = ()) -> Iterator[tuple[str, Path, str]]:
    """(relative path, path, mode) of every file of a run folder that is synced; symbolic links
    and anything that is not a plain file are skipped. ``after``: only the files whose relative
    path sorts after it (a page of the manifest): the others are not even looked at, nor the
    folders whose every path sorts before it. ``skip``: top-level folders not looked into."""
    folder = Path(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        prefix = Path(dirpath).relative_to(folder).as_posix() + "/"
        prefix = "" if prefix == "./" else prefix
        dirnames[:] = sorted(d for d in dirnames if not (prefix == "" and d in skip)  # not even an lstat
                             and not os.path.islink(os.path.join(dirpath, d))
                             and not (after is not None and after > prefix + d + "/"
                                      and not after.startswith(prefix + d + "/")))
        for name in sorted(filenames):
            rel = prefix + name
            if after is not None and rel <= after:
                continue
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            mode = file_mode(rel)
            if mode is not None:
                yield rel, path, mode


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
