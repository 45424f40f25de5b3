"""What a run captures about its process while it is open: liveness, logs and resources.

``Run.__init__`` calls ``start_capture`` last, with the run's ``RunParts`` (its writer, folder,
settings and closers; see ``labbook.writer.surface``); every part registers its stop on ``closers``,
which ``Run.end()`` calls in reverse order before the final flush. So at ``end()`` the resource
sampler stops first, then the log capture (restoring fds 1 and 2 and the logging setup), then the
heartbeat, and last the process's entry in run.json ``ranks`` is closed with its final status.

Switches: ``track_logs`` (default True); ``collect_resources`` (default from the setting of the
same name, True; ``LABBOOK_COLLECT_RESOURCES=0`` turns it off everywhere); intervals from
``resources_interval`` and ``heartbeat_interval`` (see ``labbook.config``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from labbook.capture import distributed
from labbook.capture.liveness import Heartbeat
from labbook.config import process_environment
from labbook.errors import ConfigError

if TYPE_CHECKING:
    from labbook.writer.surface import RunParts


def start_capture(parts: RunParts, track_logs: bool, collect_resources: bool | None,
                  liveness_recorded: bool = False) -> None:
    """Start the heartbeat, then log capture and resource sampling as asked.
    ``liveness_recorded``: run.json already holds rank 0's ``liveness`` and ``heartbeat_at``
    (``Run`` writes them with the run's first record)."""
    settings = parts.settings
    for name in ("resources_interval", "heartbeat_interval", "crash_timeout"):
        value = getattr(settings, name)
        if not (isinstance(value, (int, float)) and value > 0):
            raise ConfigError(f"{name}={value!r} must be a positive number of seconds.")
    if collect_resources is None:
        collect_resources = getattr(settings, "collect_resources", True)
    if parts.rank != 0 or distributed.world_size() > 1 or process_environment().run_group:
        distributed.attach(parts)
    heartbeat = Heartbeat(parts, settings.heartbeat_interval)
    heartbeat.start(recorded=liveness_recorded)
    parts.closers.append(heartbeat.stop)
    if track_logs:
        _start_logs(parts)
    if collect_resources:
        from labbook.capture.resources import ResourceSampler

        sampler = ResourceSampler(parts, settings.resources_interval, distributed.local_rank())
        sampler.start()
        parts.closers.append(sampler.stop)


def _start_logs(parts: RunParts) -> None:
    from labbook.capture.logs import LOG_DIR, LogCapture  # logging, select: loaded when logs are captured

    capture = LogCapture(parts.path / LOG_DIR / f"{parts.writer_id}.jsonl", parts.rank, parts.writer_id,
                         parts.writer.errors)
    try:
        capture.start()
    except OSError as error:  # no select.poll, or no file descriptors left
        parts.writer.update_run(("merge", "capture", {"logs": f"not captured: {error}"}))
        return
    parts.closers.append(lambda: capture.stop(_failure_traceback(parts)))
    if "ipykernel" in sys.modules and sys.stdout is not sys.__stdout__:
        parts.writer.update_run(("merge", "capture", {"logs": (
            "in a notebook, print() goes to the kernel rather than file descriptor 1, so only "
            "output from C code and child processes is captured")}))


def _failure_traceback(parts: RunParts) -> list[tuple[str, str, str]]:
    """The traceback of a run that failed on an exception, to end its log with.

    Python prints it after ``end()`` has restored stderr, so the pipes never see it."""
    if parts.record.get("status") != "failed":
        return []
    from labbook.store.runfile import read_run_file

    parts.writer.flush()
    conditions = read_run_file(parts.folder.run_file).get("status_conditions") or []
    for condition in reversed(conditions):
        if condition.get("status") == "failed":
            message = condition.get("message") or ""
            return [("stderr", "ERROR", message)] if "Traceback" in message else []
    return []
