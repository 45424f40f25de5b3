"""Process-wide hooks of a run: finishing at exit, on an uncaught exception and on SIGTERM.

Each hook chains to what was there before (the user's own excepthook still prints, a previous
SIGTERM handler still runs) and ``uninstall`` puts back exactly what ``install`` replaced, so
ending a run leaves the process as it found it.
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
    ) -> None:
        self._on_exit = on_exit
        self._on_exception = on_exception
        self._on_sigterm = on_sigterm
        self._previous_excepthook: Callable | None = None
        self._previous_sigterm: Any = None

    def install(self) -> None:
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

    def _atexit(self) -> None:
        self._on_exit()

    def _excepthook(self, exc_type, exc, tb) -> None:
        previous = self._previous_excepthook or sys.__excepthook__
        try:
            self._on_exception(exc_type, exc, tb)
        finally:
            previous(exc_type, exc, tb)

    def _sigterm(self, signum, frame) -> None:
        previous = self._previous_sigterm
        self._on_sigterm()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
