"""Content hashing: SHA-256 of a file, of bytes, or of a directory tree.

A directory's digest covers each file's relative path (POSIX form), size and SHA-256, in sorted
order, so renaming, adding or changing any file changes it::

    from labbook.store.hashing import hash_path
    digest, size = hash_path("model_dir/")

``FileHashes`` remembers the SHA-256 of local files that are hashed again and again (a run folder
pushed on every write, a client's pass over a running run), the one such cache of the project.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Callable

CHUNK = 8 * 1024 * 1024
# A file modified this close to the moment it was hashed may change again within its time stamp's
# tick (2 s on some file systems) and keep the same (inode, size, mtime): git's "racy" files.
RACY_SECONDS = 2.0


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(sha256 hex, size) of one file, read in 8 MiB chunks into one reused buffer."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            digest.update(view[:count])
            size += count
    return digest.hexdigest(), size


class FileHashes:
    """SHA-256 of local files, remembered by (inode, size, mtime_ns) for at most ``limit`` files.

    A file is hashed again when any of the three changed (an atomic rewrite makes a new inode;
    an in-place one moves size or mtime), and whenever it was modified within ``RACY_SECONDS``
    of the moment it was hashed: a same-size rewrite in the same tick of the file system's clock
    changes none of the three, so such a file is never answered from the cache (git's rule for
    racily clean files). ``hashed`` counts the files actually read::

        hashes = FileHashes()
        digest = hashes.sha256("outputs/model.pt")  # read once, then answered from the cache
    """

    def __init__(self, limit: int = 200_000, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit  # about 300 bytes a file: a bound on memory, forgetting costs one hash
        self.clock = clock
        self.hashed = 0
        self._known: dict[str, tuple[int, int, int, str]] = {}  # path -> (inode, size, mtime_ns, sha256)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def sha256(self, path: str | os.PathLike[str], stat: os.stat_result | None = None) -> str:
        """``path``'s SHA-256 (``stat``: its ``os.stat`` when the caller just took it)."""
        key = os.fspath(path)
        stat = stat or os.stat(key)
        identity = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        known = self._known.get(key)
        if known is not None and known[:3] == identity:
            return known[3]
        hashed_at = self.clock()  # taken before reading: a write during the read is newer
        digest, _size = hash_file(key)
        with self._lock:
            self.hashed += 1
            if hashed_at - stat.st_mtime_ns / 1e9 < RACY_SECONDS:  # racy: read again next time
                self._known.pop(key, None)
                return digest
            if len(self._known) >= self.limit:
                self._known.clear()
            self._known[key] = (*identity, digest)
        return digest


def iter_tree(root: Path) -> list[Path]:
    """Every file under ``root``, sorted by relative path (a link to a file counts as that file)."""
    files = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        for name in names:
            files.append(Path(folder) / name)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def hash_dir(root: str | os.PathLike[str]) -> tuple[str, int, list[dict]]:
    """(digest, total size, manifest) of a directory; the manifest lists path, size, sha256."""
    root = Path(root)
    digest = hashlib.sha256(b"labbook.dir.v1\n")
    manifest, total = [], 0
    for path in iter_tree(root):
        rel = path.relative_to(root).as_posix()
        file_hash, size = hash_file(path)
        digest.update(f"{rel}\0{size}\0{file_hash}\n".encode())
        manifest.append({"path": rel, "size": size, "sha256": file_hash})
        total += size
    return digest.hexdigest(), total, manifest


def hash_path(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(digest, size) of a file or a directory."""
    if Path(path).is_dir():
        digest, size, _ = hash_dir(path)
        return digest, size
    return hash_file(path)


def short_hash(path: str | os.PathLike[str] | None = None, content: object = None) -> str:
    """The 12-hex-digit hash lineage summaries carry (Polyaxon's form, SHA-256 here)."""
    if content is not None:
        data = content if isinstance(content, bytes) else str(content).encode()
        return hash_bytes(data)[:12]
    if path is None:
        from labbook.errors import InvalidValueError

        raise InvalidValueError("short_hash() needs a path or content; it got neither.")
    return hash_path(path)[0][:12]
