"""Per-run lock files: the write lock of a run across server processes on a SQLite catalog.

On PostgreSQL a run's write lock is an advisory lock (``labbook.server.stored.write_lock``);
on SQLite it is an exclusive ``flock`` on ``<database>.locks/<run uuid>.lock``. A lock file can
be removed, by its holder, without a window where two processes hold the lock: a process that
locked a file checks that the path still names it (same inode) and starts over when it does
not, so whoever waited on a removed file takes the new one. A run's file is removed when the
run ends (``remove``, holding it) and, for runs written again after that, by the worker's
garbage collection (``sweep``: files not used for a while whose lock is free)::

    locks = FileLocks(Path("labbook.db.locks"))
    with locks.hold(uuid):
        ...
        locks.remove(uuid)      # the run ended: the file goes, the lock is released as usual
    locks.sweep(older_than=3600)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path
from typing import Any, Iterator

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
SUFFIX = ".lock"


def lock_folder(engine: Any, root: str | os.PathLike[str] | None = None) -> Path | None:
    """Where a SQLite catalog's run lock files live (beside its database; ``root``/.sync/locks
    for a database in memory, None without ``root``); None on PostgreSQL (advisory locks)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if database and database != ":memory:":
        return Path(f"{database}.locks")
    return Path(root) / ".sync" / "locks" if root is not None else None


class FileLocks:
    """Exclusive per-run file locks in one folder (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def path(self, uuid: str) -> Path:
        return self.folder / f"{uuid}{SUFFIX}"

    @contextlib.contextmanager
    def hold(self, uuid: str) -> Iterator[None]:
        """Hold run ``uuid``'s lock (blocking) until the block ends."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(uuid)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _names(path, fd):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # removed while we waited: the lock is now the new file's
        try:
            yield
        finally:
            os.close(fd)

    def remove(self, uuid: str) -> None:
        """Remove run ``uuid``'s lock file; only while holding it (``hold``)."""
        with contextlib.suppress(FileNotFoundError):
            self.path(uuid).unlink()

    def sweep(self, older_than: float) -> int:
        """Remove the lock files not touched for ``older_than`` seconds whose lock is free now
        (a held one is left); returns how many went."""
        if not self.folder.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than
        for path in self.folder.glob(f"*{SUFFIX}"):
            try:
                if path.lstat().st_mtime > cutoff:
                    continue
                fd = os.open(path, os.O_RDWR | _NOFOLLOW)
            except OSError:
                continue  # gone meanwhile, or not a plain file of ours
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _names(path, fd):
                    path.unlink()
                    removed += 1
            except OSError:
                pass  # held: its run is being written
            finally:
                os.close(fd)
        return removed


def _names(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        return os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
