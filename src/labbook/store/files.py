"""Writing files so that a crash, a full disk or a planted link never leaves a damaged record.

* ``write_atomic(path, data)``: a small record (a version record, a tag move, run.json) is
  written to a temporary file beside it, flushed to disk (fsync) and renamed over ``path``, so a
  reader sees the old file or the new one, never a part. ``exclusive=True`` links the temporary
  file to ``path`` instead, which fails when ``path`` exists (a number another writer took).
* ``set_aside(path)``: a record that is empty or cut short (a crash or a full disk under an older
  version, a copy cut short) is renamed to ``<stem>.damaged``: kept for a person to look at, out
  of the readers' way, and its name (a version number) never used again.
* ``copy_file`` / ``copy_tree``: the user's file is copied, never moved. Where the file system
  can share blocks copy-on-write (``FICLONE``: btrfs, XFS, bcachefs) the copy costs no space;
  elsewhere the kernel copies (``copy_file_range``). The copy is made under a temporary name and
  renamed into place, so a full disk leaves no half-written file behind.
* ``link_or_copy``: a content-addressed blob from a file already in the run folder: a clone,
  else a hard link (one inode, no second copy), else one copy.

Temporary files start with a dot and hold ``.tmp-``; readers of the store skip them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator

DAMAGED_SUFFIX = ".damaged"
_FICLONE = 0x40049409  # Linux ioctl: share the blocks copy-on-write


def temporary_name(path: Path) -> Path:
    """A fresh, hidden name beside ``path`` for building it before the rename."""
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform or file system can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, exclusive: bool = False,
                 durable: bool = True, newer_than: int | None = None) -> bool:
    """Write ``data`` to ``path`` all at once (see the module docstring).

    Returns False only with ``exclusive=True`` when ``path`` already exists. On any error
    (a full disk, say) the temporary file is removed and ``path`` is as it was.
    ``newer_than``: the mtime (ns) of the file this one replaces; the new file's is made at
    least ``MTIME_STEP_NS`` later (``stamp_after``).
    """
    path = Path(path)
    tmp = temporary_name(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:  # its folder first
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    placed = False
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if newer_than is not None:
                stamp_after(fd, newer_than)
            if durable:
                os.fsync(fd)
        except OSError as error:
            raise _naming(error, path) from error
        finally:
            os.close(fd)
        if exclusive:
            try:
                os.link(tmp, path)  # fails if path exists: first writer wins
            except FileExistsError:
                return False
            except OSError:  # no hard links here (some network or FUSE file systems)
                if os.path.lexists(path):  # callers serialise with a lock where it matters
                    return False
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
            placed = True
    finally:
        if not placed:  # a link left it, or a failure did
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    if durable:
        _fsync_dir(path.parent)
    return True


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """A small file's bytes (run.json, a marker), read with ``os.open``/``os.read``: four system
    calls, where ``Path.read_bytes``'s buffered file object makes nine (two ``fstat``s, an
    ``ioctl``, two ``lseek``s besides). Raises what ``open`` raises."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


MTIME_STEP_NS = 50_000  # what stamp_after puts between two versions of a file, at least


def stamp_after(fd: int, newer_than: int) -> None:
    """Give the open file ``fd`` an mtime at least ``MTIME_STEP_NS`` past ``newer_than`` (ns).

    A new file's time stamp is the clock's coarse tick (a few milliseconds), so a file replaced
    twice within one tick would keep its mtime, and whoever compares mtimes (the catalog's rows
    of run.json) could not tell the newer version. Usually the file is already later and this
    is one ``fstat``; within one tick its mtime is set a few microseconds ahead."""
    stat = os.fstat(fd)
    wanted = newer_than + MTIME_STEP_NS
    if stat.st_mtime_ns < wanted:
        os.utime(fd, ns=(stat.st_atime_ns, wanted))


def _naming(error: OSError, path: Path) -> OSError:
    """``error`` (ENOSPC from a bare write, say) with the path it was writing, for the message."""
    if error.filename is not None:
        return error
    return type(error)(error.errno, error.strerror, str(path))


def set_aside(path: str | os.PathLike[str]) -> Path | None:
    """Rename a damaged record ``x.json`` to ``x.damaged``; None if another process did it first."""
    path = Path(path)
    target = path.with_name(path.name.rsplit(".", 1)[0] + DAMAGED_SUFFIX)
    if target.exists():
        target = target.with_name(f"{target.name}-{secrets.token_hex(3)}")
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target


def _clone(source: Path, dest: Path) -> bool:
    """Share ``source``'s blocks at the new path ``dest``; False where the file system cannot."""
    try:
        import fcntl

        with open(source, "rb") as src, open(dest, "xb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
    except (OSError, ImportError):
        with contextlib.suppress(OSError):
            dest.unlink()
        return False
    return True


def _copy_bytes(source: Path, dest: Path) -> None:
    with open(source, "rb") as src, open(dest, "xb") as dst:
        copy_range = getattr(os, "copy_file_range", None)
        if copy_range is not None:
            try:  # in the kernel; NFS and XFS may share blocks server-side
                while copy_range(src.fileno(), dst.fileno(), 1 << 30):
                    pass
                return
            except OSError as error:
                if error.errno not in (18, 22, 38, 95):  # EXDEV, EINVAL, ENOSYS, EOPNOTSUPP
                    raise
                src.seek(0)
                dst.seek(0)
                dst.truncate()
        shutil.copyfileobj(src, dst, 8 << 20)


def copy_file(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy the file ``source`` (a link is followed) to ``dest``, replacing what is there.

    ``source`` is only read. The bytes go to a temporary name first, then one rename.
    """
    source, dest = Path(source), Path(dest)
    tmp = temporary_name(dest)
    try:
        if not _clone(source, tmp):
            _copy_bytes(source, tmp)
        shutil.copystat(source, tmp)
        os.replace(tmp, dest)
    except BaseException as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(error, OSError):
            raise _naming(error, dest) from error
        raise


def copy_tree(source: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy the folder ``source`` to ``dest`` (which must not exist), each file as ``copy_file``."""
    source, dest = Path(source), Path(dest)
    tmp = temporary_name(dest)
    try:
        shutil.copytree(source, tmp, copy_function=_copy_one)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy_one(source: str, dest: str) -> None:
    if not _clone(Path(source), Path(dest)):
        _copy_bytes(Path(source), Path(dest))
    shutil.copystat(source, dest)


def link_or_copy(source: Path, dest: Path) -> None:
    """``dest`` as a clone of ``source``, else a hard link to it, else (another file system) a copy."""
    if _clone(source, dest):
        shutil.copystat(source, dest)
        return
    try:
        os.link(source, dest)
    except OSError:
        _copy_one(str(source), str(dest))


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if absent) between processes; closing
    the file releases it, so a killed holder never leaves it locked. On Windows (no ``fcntl``)
    it does nothing: one writer per folder there."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        yield
    finally:
        os.close(fd)
