"""run.json: the run's metadata snapshot, and the one place that reads and changes it.

Several processes may log to one run (ranks, workers, a resumed job). Each keeps the changes it
made as a list of operations and applies them under an exclusive lock on ``run.json.lock``: read,
apply, write to a temporary file, rename. So no process loses another's changes, and a reader
never sees a half-written file.

The lock is a ``flock`` on an open file, which a forked child would share while it lives (and so
hold for the parent, or wait on itself): ``os.fork()`` waits until no thread of this process
holds it, so a child never starts with it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from labbook.errors import RunFileError, WriteError
from labbook.store.files import file_lock, read_bytes
from labbook.store.files import write_atomic as _write_atomic

RUN_FORMAT = "labbook.run"
RUN_FORMAT_VERSION = 1
# The statuses a run ends in: once run.json holds one, the run is over (Polyaxon's final statuses).
FINAL_STATUSES = frozenset({"succeeded", "failed", "stopped", "skipped", "upstream_failed"})

# (op, key, value): "set" a field, "merge" into a dict field, "replace" a dict field,
# "tags_add" / "tags_set" the tag list, "append" to a list field.
Op = tuple[str, str, Any]


def dump_run_record(data: dict[str, Any]) -> bytes:
    """run.json's bytes for a run record, as every writer of it writes them."""
    return _dumps(data)


def _dumps(data: Any) -> bytes:
    return orjson.dumps(
        data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
    )


def read_run_file(path: Path) -> dict[str, Any]:
    """run.json as a dict; ``RunFileError`` naming the file when it is damaged or not a run file."""
    try:
        data = orjson.loads(read_bytes(path))
    except orjson.JSONDecodeError as error:
        raise RunFileError(_damaged(path, f"not valid JSON: {error}")) from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise RunFileError(_damaged(path, f"not a labbook run file (no \"format\": {RUN_FORMAT!r})"))
    return data


def _damaged(path: Path, problem: str) -> str:
    """What every reader says about a run.json it cannot read, and what to do about it."""
    return (
        f"Run file {path} is damaged ({problem}). The run's events, assets and logs in "
        f"{path.parent} are untouched. Restore run.json from a backup or another copy of the "
        "folder; until then this run is skipped by 'labbook index' and cannot be resumed."
    )


# Held by a thread while it holds a run.json lock; os.fork() takes it first (see above).
_no_fork_while_locked = threading.RLock()


def _forked_child() -> None:
    global _no_fork_while_locked
    _no_fork_while_locked = threading.RLock()  # the forking thread's hold stays in the parent


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=lambda: _no_fork_while_locked.acquire(),
                        after_in_parent=lambda: _no_fork_while_locked.release(),
                        after_in_child=_forked_child)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with _no_fork_while_locked, file_lock(path.with_name(path.name + ".lock")):
        yield


def write_atomic(path: Path, content: bytes, newer_than: int | None = None) -> None:
    """Replace ``path`` all at once (``labbook.store.files.write_atomic``, without the fsync:
    this runs on the writer thread about once a second); ``newer_than``: the replaced file's
    mtime (ns), which the new one's exceeds (``labbook.store.files.stamp_after``)."""
    _write_atomic(path, content, durable=False, newer_than=newer_than)


def apply_ops(data: dict[str, Any], ops: Iterable[Op]) -> dict[str, Any]:
    for op, key, value in ops:
        if op == "set":
            data[key] = value
        elif op == "merge":
            data.setdefault(key, {}).update(value)
        elif op == "replace":
            data[key] = dict(value)
        elif op == "tags_add":
            tags = data.setdefault("tags", [])
            tags.extend(t for t in value if t not in tags)
        elif op == "tags_set":
            data["tags"] = list(dict.fromkeys(value))
        elif op == "append":
            data.setdefault(key, []).append(value)
        else:  # pragma: no cover - programmer error
            raise AssertionError(f"unknown run.json operation {op!r}")
    return data


def replace_run_file(path: Path, content: bytes, expected: bytes | None = None) -> bool:
    """Replace run.json whole with ``content`` (a copy kept elsewhere: the server's object store)
    under the lock ``update_run_file`` takes, so an update of a writer in this folder lands
    before or after it, never on the copy it replaces. With ``expected``, only while run.json
    holds exactly those bytes (else nothing is written, and False is returned)."""
    with _locked(path):
        try:
            replaced: int | None = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            replaced = None
        if expected is not None:
            try:
                if replaced is None or read_bytes(path) != expected:
                    return False
            except FileNotFoundError:
                return False
        write_atomic(path, content, replaced)
    return True


def update_run_file(path: Path, ops: list[Op], initial: dict[str, Any] | None = None) -> dict:
    """Apply ``ops`` to run.json under the lock; create it from ``initial`` if absent."""
    with _locked(path):
        try:
            replaced: int | None = os.stat(path).st_mtime_ns  # the new version's mtime exceeds it
        except FileNotFoundError:
            replaced = None
        if replaced is not None:
            data = read_run_file(path)
        elif initial is not None:
            data = {"format": RUN_FORMAT, "version": RUN_FORMAT_VERSION, **initial}
        else:
            missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            raise WriteError(f"{path} does not exist: the run folder was removed while the run was "
                             "open. Keep run folders in place until their run has ended.", path, missing)
        apply_ops(data, ops)
        write_atomic(path, _dumps(data), replaced)
    return data
