"""labbook's exceptions.

Every error the library raises on purpose is a ``LabbookError``; the CLI turns them into a
message and an exit code. Each message names the value at fault and says what to do::

    LabbookError
    ├── ConfigError             a setting has a value labbook cannot use
    ├── NoActiveRunError        a module-level call was made before ``tracking.init()``
    ├── RunStateError           the run cannot do that now (ended, already active, ...)
    ├── InvalidNameError        a metric, event, artifact or project name is unusable
    ├── InvalidValueError       a logged value has the wrong type, shape or range
    ├── PathEscapeError         a path would leave the run folder or the store
    ├── NotFoundError           a run, metric, artifact or version does not exist
    ├── QueryError              a search filter or ordering could not be parsed
    ├── CatalogError            the catalog cannot be opened or is at the wrong revision
    │   └── CatalogDamagedError the catalog file is damaged: 'labbook index --rebuild' replaces it
    ├── SyncConflictError       a sync would change bytes a server already holds
    │   └── AppendConflict      bytes for an append-only file leave a gap or change committed bytes
    ├── SyncUnavailableError    the server of LABBOOK_HOST could not be reached before the deadline
    ├── MissingDependencyError  an optional library is needed: names the extra to install
    ├── InvalidTypeError        an argument has the wrong type (also an InvalidValueError, TypeError)
    ├── RunFileError            a run's run.json is damaged, missing or not a labbook run file
    ├── EventFileError          an event file is damaged, not labbook's, or of a newer format
    ├── ArtifactIntegrityError  a version's stored bytes were changed after it was logged
    ├── NotAvailableError       a feature that is not built yet (also a NotImplementedError)
    └── WriteError              the run folder could not be written (a full disk): also an OSError

Where a stdlib base is mixed in (``ValueError``, ``LookupError``, ``OSError`` ...), code that
catches the stdlib class keeps working. ``tests/test_errors.py`` checks that every ``raise`` in the
package names one of these classes (a short, explained list of exceptions aside).
"""

from __future__ import annotations


class LabbookError(Exception):
    """Root of every error labbook raises on purpose."""


class ConfigError(LabbookError):
    pass


class NoActiveRunError(LabbookError):
    def __init__(self, function: str) -> None:
        super().__init__(
            f"{function}() needs an active run, and none is started. "
            "Call labbook.tracking.init(project=...) first, "
            "or use `with labbook.tracking.Run(project=...) as run:`."
        )


class RunStateError(LabbookError):
    pass


class InvalidNameError(LabbookError, ValueError):
    pass


class InvalidValueError(LabbookError, ValueError):
    pass


class PathEscapeError(LabbookError, ValueError):
    pass


class NotFoundError(LabbookError, LookupError):
    pass


class QueryError(LabbookError, ValueError):
    pass


class CatalogError(LabbookError):
    pass


class SyncConflictError(LabbookError):
    """A sync would change bytes a server already committed (a gap in an append-only file, or
    different bytes at an offset it holds). Nothing is written; the message names the file."""


class SyncUnavailableError(LabbookError):
    """The server could not be reached (or kept failing) before the deadline."""


class MissingDependencyError(LabbookError, ImportError):
    def __init__(self, library: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs {library}, which is not installed. "
            f"Install it with: pip install 'labbook[{extra}]'"
        )
        self.library = library
        self.extra = extra


class InvalidTypeError(InvalidValueError, TypeError):
    """An argument of the wrong type. Also a ``TypeError`` (and, as before, an ``InvalidValueError``)."""


class CatalogDamagedError(CatalogError):
    """The catalog file is not a database any more (or its pages are malformed)."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(
            f"The catalog {path} is damaged ({reason}). It is only an index of the run folders: "
            "run 'labbook index --rebuild' to set the damaged file aside and build a new catalog "
            "from them."
        )
        self.path = path
        self.reason = reason


class RunFileError(LabbookError, ValueError):
    """A run folder's run.json cannot be read: damaged, truncated, or not a labbook run file."""


class EventFileError(LabbookError, ValueError):
    """An event file cannot be read: no complete header, not labbook's, or a newer format version."""


class ArtifactIntegrityError(LabbookError):
    """A version's stored bytes were changed after it was logged."""


class NotAvailableError(LabbookError, NotImplementedError):
    """The feature exists in Polyaxon's API but labbook does not provide it yet; the message says
    what to do instead."""


class WriteError(LabbookError, OSError):
    """Logged data could not be written to the run folder (a full disk, a lost mount...).

    ``path`` is the file, ``cause`` the ``OSError`` (its ``errno`` is kept: ``errno.ENOSPC`` for a
    full disk). What was not written yet stays pending and is retried; see docs/configuration.md.
    """

    def __init__(self, message: str, path: object = None, cause: OSError | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.cause = cause
        if cause is not None:
            self.errno = cause.errno
            self.strerror = cause.strerror
        self.filename = None if path is None else str(path)

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AppendConflict(SyncConflictError):
    """Bytes sent for an append-only file that do not continue what is committed.

    ``reason`` is ``"gap"`` (they start past the committed end), ``"changed"`` (they overlap
    committed bytes and differ: the local file was rewritten) or ``"busy"`` (other writers kept
    winning the commit). ``committed`` is the server's length: resend from there.
    """

    def __init__(self, run_uuid: str, path: str, offset: int, end: int, committed: int, reason: str) -> None:
        fixes = {
            "gap": f"bytes [{offset}, {end}) start past the {committed} committed; resend from offset {committed}",
            "changed": (f"bytes [{offset}, {end}) differ from the {committed} committed bytes they overlap: the "
                        "file was rewritten, not appended to; append-only files must only grow (send only the "
                        f"bytes from offset {committed}, or log to a new run)"),
            "busy": (f"bytes [{offset}, {end}) lost the commit to other writers {_RETRIES_TEXT}; "
                     f"retry from offset {committed}"),
        }
        super().__init__(f"Cannot append to {path!r} of run {run_uuid}: {fixes[reason]}.")
        self.run_uuid = run_uuid
        self.path = path
        self.offset = offset
        self.end = end
        self.committed = committed
        self.reason = reason


_RETRIES_TEXT = "64 times in a row"
