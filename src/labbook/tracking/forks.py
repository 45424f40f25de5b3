"""A run in a forked child: what ``os.fork()`` leaves of it, and what the child does with it.

multiprocessing's ``fork`` context and PyTorch's ``DataLoader(num_workers>0)`` on Linux fork the
training process. The child starts with a copy of the parent's memory but only the thread that
forked: the run's writer, indexer, heartbeat, log reader and resource threads are not there, a
lock one of them held stays held for good, and the records still pending in memory are the
parent's, which the parent writes itself. So right after the fork every live run in the child
gets (``adopt``):

* a fresh writer with its own id, ``<rank>-<child pid>-<6 hex>``, holding none of the parent's
  records, whose thread starts only when the child logs: a worker that never logs costs nothing
  and writes nothing, and one that logs is one more writer of the run, like a second process;
* fresh locks, no indexer (the parent indexes the run, the children's points included, at its
  next update and at its end), and none of the parent's capture (the parent's log capture still
  records what the child prints, through the descriptors the child inherited);
* process hooks that in the child only write what the child logged: its exit, an uncaught
  exception or SIGTERM (``Pool.terminate()``) never change the run's status, which belongs to
  the parent. ``end()`` and leaving a ``with`` block do the same; setting a status is refused.
  Until the child logs, SIGTERM has the handler it had before the run (the default: the kernel
  ends the child), so a worker that is terminated never waits on Python to notice.

A child that logs writes everything at its exit: interpreter exit (atexit), a multiprocessing
worker's exit (its finalizers: such workers leave through ``os._exit``), SIGTERM, or ``end()``.

SIGTERM is blocked in the forking thread across ``fork()`` and unblocked in the child once it is
set up. Python clears the signals a child caught before its interpreter was ready, so a SIGTERM
sent to a worker that the scheduler had not run yet (``Pool.terminate()`` right after a quick
``map``) would be lost while the run's handler is installed, leaving the worker waiting forever
on a queue lock its parent holds; blocked, it stays pending and is handled in the child.
"""

from __future__ import annotations

import atexit
import os
import secrets
import signal
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any

_live: weakref.WeakSet[Any] = weakref.WeakSet()
_registered = False
_forking = threading.local()  # the forking thread's signal mask, kept across fork()
_SIGTERM = {signal.SIGTERM} if hasattr(signal, "pthread_sigmask") else None

if TYPE_CHECKING:
    from labbook.tracking.run import Run


def track(run: Run) -> None:
    """Adopt ``run`` in every child this process forks from now on."""
    global _registered
    _live.add(run)
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_parent=_restore_signal_mask,
                            after_in_child=_after_fork_in_child)
        _registered = True


def _before_fork() -> None:
    _forking.mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGTERM) if _SIGTERM else None


def _restore_signal_mask() -> None:
    mask = getattr(_forking, "mask", None)
    if mask is not None:
        _forking.mask = None
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _after_fork_in_child() -> None:
    try:
        for run in list(_live):
            if not run._ended:
                adopt(run)
    finally:
        _restore_signal_mask()  # a SIGTERM sent meanwhile is handled now, by the child's run


def adopt(run: Run) -> None:
    """Make ``run`` (a copy of the parent's, in a freshly forked child) the child's own writer."""
    from labbook.writer.writer import RunWriter

    parent = run._writer
    run._lock = threading.RLock()
    run._closers = []  # the parent's capture threads: not in this process
    run._indexer = None
    run.writer_id = f"{run.rank}-{os.getpid()}-{secrets.token_hex(3)}"
    run._writer = RunWriter(
        run._folder,
        run.writer_id,
        flush_interval=parent.flush_interval,
        max_pending=parent.max_pending,
        header_extra={**parent.header_extra, "pid": os.getpid(), "parent_pid": run._owner_pid},
        after_flush=None,
        on_failure=None if run._never_crash else run._writer_failed,
        on_start=lambda: _write_at_exit(run),
        start=False,
    )
    run._metrics = run._writer.metrics
    run._metric_series = {}
    run._hooks.release_sigterm()


def _write_at_exit(run: Run) -> None:
    """Once the child logs: write its records however it exits (see the module docstring)."""
    run._hooks.restore_sigterm()
    atexit.register(run._end_in_child)
    util = sys.modules.get("multiprocessing.util")
    if util is not None:  # a worker's exit runs these, not atexit (registered after its start)
        util.Finalize(None, run._end_in_child, exitpriority=10)
