"""The crashed-run rule, in one place: when a ``running`` run is reported ``crashed``.

Every process logging to a run keeps a heartbeat file, ``heartbeat/<writer id>.json`` in the
run folder (``labbook.capture.liveness`` writes them); rank 0 also copies the time into
run.json's ``heartbeat_at`` and so into the catalog. A run whose status is ``running`` and whose
newest heartbeat is older than the timeout is reported ``crashed``::

    timeout = max(crash_timeout, 3 * heartbeat_interval)

``heartbeat_interval`` is the one the writing process recorded (run.json's ``liveness``), else
the reader's setting. A run with no heartbeat at all (written before heartbeats existed, or by
hand) has nothing to judge by and stays ``running``. The status in run.json is never changed.

The same rule serves a run read from its folder (``reported_status``, heartbeat files
included) and the catalog's SQL (``crashed_before``: the cutoff ``catalog.query`` compares
``heartbeat_at`` with), so a ``status = 'crashed'`` filter returns exactly the rows whose
status reads ``crashed``.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from labbook._time import parse_time
from labbook.store.layout import HEARTBEAT_DIR

MISSED_BEATS = 3  # never call a run crashed sooner than this many of its own heartbeat intervals


def last_heartbeat(record: dict[str, Any]) -> float | None:
    """Newest heartbeat of a run as epoch seconds: its heartbeat files (when ``record`` has a
    ``path``), else ``heartbeat_at``."""
    newest: float | None = None
    path = record.get("path")
    if path:
        try:
            with os.scandir(os.path.join(path, HEARTBEAT_DIR)) as entries:
                for entry in entries:
                    try:
                        mtime = entry.stat().st_mtime
                    except OSError:
                        continue
                    newest = mtime if newest is None else max(newest, mtime)
        except OSError:
            pass
    stamp = parse_time(record.get("heartbeat_at"))
    if stamp is not None:
        moment = stamp.timestamp()
        newest = moment if newest is None else max(newest, moment)
    return newest


def crash_timeout(record: dict[str, Any], settings: Any) -> float:
    """Seconds without a heartbeat after which a running run is reported ``crashed``."""
    interval = (record.get("liveness") or {}).get("heartbeat_interval") or settings.heartbeat_interval
    return max(float(settings.crash_timeout), MISSED_BEATS * float(interval))


def reported_status(record: dict[str, Any], settings: Any, now: float | None = None) -> str:
    """``record``'s status, or ``crashed`` for a ``running`` run whose heartbeat went stale.

    ``record`` is run.json's content (with ``path``) or a catalog row::

        reported_status({"status": "running", "path": "/runs/p/3f2c...", ...}, settings)  # 'crashed'
    """
    status = record.get("status") or "created"
    if status != "running":
        return status
    last = last_heartbeat(record)
    if last is None:  # nothing to judge by
        return status
    now = time.time() if now is None else now
    return "crashed" if now - last > crash_timeout(record, settings) else status


def crashed_before(settings: Any, now: datetime | None = None) -> datetime:
    """The cutoff for catalog rows (which carry ``heartbeat_at`` but no recorded interval): a
    running row whose ``heartbeat_at`` is older is ``crashed``, as ``reported_status`` says of it."""
    now = datetime.now(timezone.utc) if now is None else now
    return now - timedelta(seconds=crash_timeout({}, settings))
