"""Process-wide hooks of a run: finishing at exit, on an uncaught exception and on SIGTERM.

Each hook chains to what was there before (the user's own excepthook still prints, a previous
SIGTERM handler still runs) and ``uninstall`` puts back exactly what ``install`` replaced, so
ending a run leaves the process as it found it.

A forked child (a multiprocessing or DataLoader worker) inherits the hooks. There they never end
the run, whose status belongs to the process that installed them: they call ``on_child``
instead (which writes what the child itself logged), then chain as usual.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from typing import Any, Callable


class ProcessHooks:
    """atexit, ``sys.excepthook`` and SIGTERM handling for one run."""

    def __init__(
        self,
        on_exit: Callable[[], None],
        on_exception: Callable[[type, BaseException, Any], None],
        on_sigterm: Callable[[], None],
        on_child: Callable[[], None] | None = None,
    ) -> None:
        self._on_exit = on_exit
        self._on_exception = on_exception
        self._on_sigterm = on_sigterm
        self._on_child = on_child or (lambda: None)
        self._previous_excepthook: Callable | None = None
        self._previous_sigterm: Any = None
        self._pid = os.getpid()

    def _in_child(self) -> bool:
        return os.getpid() != self._pid

    def install(self) -> None:
        self._pid = os.getpid()
        atexit.register(self._atexit)
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self._excepthook
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous_sigterm = signal.signal(signal.SIGTERM, self._sigterm)
            except (ValueError, OSError):  # pragma: no cover - embedded interpreters
                self._previous_sigterm = None

    def uninstall(self) -> None:
        atexit.unregister(self._atexit)
        if self._previous_excepthook is not None and sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGTERM) == self._sigterm:
                    signal.signal(signal.SIGTERM, self._previous_sigterm)
            except (ValueError, OSError):  # pragma: no cover
                pass

    def release_sigterm(self) -> None:
        """In a forked child, before it first logs: put back the SIGTERM handler the run
        replaced (the default ends the process in the kernel), so a worker terminated while
        it is still being set up ends at once instead of depending on Python's handler."""
        if self._previous_sigterm is not None and signal.getsignal(signal.SIGTERM) == self._sigterm:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._released = True

    def restore_sigterm(self) -> None:
        """In a forked child that logs: handle SIGTERM again, writing the child's records first."""
        if getattr(self, "_released", False) and threading.current_thread() is threading.main_thread():
            self._released = False
            signal.signal(signal.SIGTERM, self._sigterm)

    def _atexit(self) -> None:
        if self._in_child():
            self._on_child()
        else:
            self._on_exit()

    def _excepthook(self, exc_type, exc, tb) -> None:
        previous = self._previous_excepthook or sys.__excepthook__
        try:
            if self._in_child():
                self._on_child()
            else:
                self._on_exception(exc_type, exc, tb)
        except Exception:  # noqa: BLE001 - e.g. a write that failed: shown, then the original
            import traceback

            traceback.print_exc()
        finally:
            previous(exc_type, exc, tb)

    def _sigterm(self, signum, frame) -> None:
        previous = self._previous_sigterm
        try:
            if self._in_child():
                self._on_child()
            else:
                self._on_sigterm()
        except Exception:  # noqa: BLE001 - the signal must still end the process below
            import traceback

            traceback.print_exc()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
