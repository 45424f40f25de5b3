"""Content hashing: SHA-256 of a file, of bytes, or of a directory tree.

A directory's digest covers each file's relative path (POSIX form), size and SHA-256, in sorted
order, so renaming, adding or changing any file changes it::

    from labbook.store.hashing import hash_path
    digest, size = hash_path("model_dir/")
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 8 * 1024 * 1024


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
