"""Writing an event's asset off the caller's thread, then its event, in that order.

The caller's thread checks the input and takes a private copy; ``log_asset_event`` then queues a
task on the run's writer thread that encodes the copy into ``assets/<kind>/<name>_<step>.<ext>``
and only afterwards appends the event pointing at it. So an event never points at a file that is
missing or half written. A failed encoding loses nothing: the data is stored as given (see
``log_asset_event``). Assets are created through ``RunFolder.create_file``, which follows no
symbolic link below the run folder.
Past ``MAX_PENDING_BYTES`` of queued data the caller waits for the writer to catch up.
An existing file is never overwritten: a second write of the same name and step gets a
``-1``, ``-2``... suffix, and the event records the exact path.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from labbook._values import step_value
from labbook.errors import InvalidValueError
from labbook.store.files import copy_file
from labbook.store.format import to_epoch_us
from labbook.store.names import check_name

Writer = Callable[[Path], dict[str, Any]]
# Assets waiting to be encoded hold copies of their data; past this many bytes of them (or this
# many assets) the caller waits for the writer (back-pressure), so memory stays bounded.
MAX_PENDING_BYTES = 256 * 1024 * 1024
MAX_PENDING_ASSETS = 10_000

if TYPE_CHECKING:
    from labbook.writer.surface import RunSurface


class _Pending:
    """Bytes of asset data queued on one writer, updated from both threads; and the asset folders
    already checked at a call (the writer thread checks again at every write)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.bytes = 0
        self.checked: set[Path] = set()

    def add(self, amount: int) -> int:
        with self.lock:
            self.bytes += amount
            return self.bytes


_pending: weakref.WeakKeyDictionary[Any, _Pending] = weakref.WeakKeyDictionary()
_pending_lock = threading.Lock()


def _pending_for(writer: Any) -> _Pending:
    with _pending_lock:
        pending = _pending.get(writer)
        if pending is None:
            pending = _pending[writer] = _Pending()
        return pending


def unique_path(folder: Any, path: Path) -> Path:
    """``path``, or the first ``<stem>-<n>.<ext>`` beside it that does not exist yet.

    The file is created empty at once (exclusively, through no symbolic link: see
    ``RunFolder.create_file``), so two writers (ranks of one job, say) never pick the same name;
    the caller then writes over it.
    """
    stem, _, suffix = path.name.rpartition(".") if "." in path.name else (path.name, "", "")
    for number in range(1_000_000):
        candidate = path if number == 0 else path.with_name(
            f"{stem}-{number}.{suffix}" if suffix else f"{stem}-{number}")
        try:
            return folder.create_file(candidate)
        except FileExistsError:
            continue
    raise FileExistsError(f"Too many assets named {path.name} in {path.parent}")


def event_record(run: RunSurface, kind: str, name: str, step: Any, timestamp: Any):
    """Checks made on the caller's thread for any event: open run, name, step, timestamp."""
    run._check_open(f"log_{kind}")
    check_name(name, f"{kind} name")
    return run._writer.series(kind, name), step_value(step), to_epoch_us(timestamp)


def log_background_event(run: RunSurface, kind: str, name: str, step: Any, timestamp: Any,
                         compute: Callable[[], dict[str, Any]], *, nbytes: int = 0) -> None:
    """Queue ``compute() -> value`` on the writer thread, then the event with that value.

    ``compute`` must only use data the caller can no longer change; ``nbytes`` is the size of
    the data it holds, for back-pressure.
    """
    _queue(run, event_record(run, kind, name, step, timestamp), compute, nbytes)


def _queue(run: RunSurface, record: tuple, compute: Callable[[], dict[str, Any]], nbytes: int) -> None:
    series, step, moment = record
    events = run._writer.events
    pending = _pending_for(run._writer)

    def task() -> None:
        try:
            events.append((series, step, moment, compute()))
        finally:
            pending.add(-nbytes)

    queued = pending.add(nbytes)
    run._writer.submit(task)
    if queued > MAX_PENDING_BYTES or len(run._writer.tasks) > MAX_PENDING_ASSETS:
        run._writer.flush()


def log_asset_event(run: RunSurface, kind: str, name: str, step: Any, timestamp: Any, ext: str,
                    write: Writer, *, source: Path | None = None,
                    extra: dict[str, Any] | None = None, nbytes: int = 0, raw: Any = None) -> None:
    """Queue ``write(path) -> value fields`` on the writer thread, then the event ``{"path": ...}``.

    ``write`` runs on the writer thread and must only use data the caller can no longer change.
    With ``source`` (a user's file), the file is copied to the asset path at once, on the
    caller's thread (it may be a temporary file about to go), and ``write`` only reads the copy.
    ``nbytes`` is the size of the data ``write`` holds, for back-pressure.

    Nothing is dropped when encoding fails on the writer thread: a user's file is kept as given
    (``write`` only reads its header) with the reason in ``unreadable``; an array (``raw``) is
    stored as it was given, a ``.npy`` file, with the reason in ``encode_error``. Only when that
    fails too (a full disk) is there no event, and the error is one of the run's writer errors.
    """
    record = event_record(run, kind, name, step, timestamp)
    folder = run._folder
    target = folder.asset_path(kind, name, record[1], ext)  # checks the extension: no escape
    checked = _pending_for(run._writer).checked
    if target.parent not in checked:
        folder.make_dirs(target.parent)  # refuses a planted link now, at the call
        checked.add(target.parent)
    root = folder.path
    copied = None
    if source is not None:
        copied = unique_path(folder, target)
        try:
            copy_file(source, copied)
        except BaseException:
            copied.unlink(missing_ok=True)  # a full disk: no empty or partial asset stays
            raise

    def compute() -> dict[str, Any]:
        path = copied or unique_path(folder, target)
        try:
            fields = write(path)
        except Exception as error:  # noqa: BLE001 - stored as given below, or raised
            reason = f"{type(error).__name__}: {error}"[:500]
            if copied is not None:  # the user's file, kept as given; only its fields are unknown
                fields = {"content_type": ext, "unreadable": reason}
            else:
                path.unlink(missing_ok=True)  # no half-written asset without its event
                if raw is None:
                    raise
                path = _store_raw(folder, target, raw)
                fields = {"content_type": "npy", "encode_error": reason}
        except BaseException:
            if copied is None:
                path.unlink(missing_ok=True)
            raise
        return {"path": path.relative_to(root).as_posix(), **(extra or {}), **fields}

    _queue(run, record, compute, nbytes)


def _store_raw(folder: Any, target: Path, raw: Any) -> Path:
    """An array that could not be encoded, saved as given (``numpy.save``) beside ``target``."""
    import numpy as np

    path = unique_path(folder, target.with_name(f"{target.name.rsplit('.', 1)[0]}.npy"))
    try:
        with open(path, "r+b") as handle:
            np.save(handle, np.asarray(raw), allow_pickle=False)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def existing_file(what: str, argument: str, source: Any) -> Path:
    """``source`` as the path of an existing file, or an error naming the argument."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise InvalidValueError(
            f"{what}: {argument} {str(source)!r} is not an existing file (cwd: {Path.cwd()}). "
            "Pass the path of a file, or the data itself."
        )
    return path


def file_ext(path: Path, default: str) -> str:
    """The extension of ``path`` in lower case, without the dot (``default`` when it has none)."""
    return path.suffix.lstrip(".").lower() or default


def no_fields(path: Path) -> dict[str, Any]:
    return {}


def is_path(data: Any) -> bool:
    import os

    return isinstance(data, (str, os.PathLike))
