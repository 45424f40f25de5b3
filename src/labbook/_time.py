"""Time in one form: aware UTC. ``utc_now()`` and its ISO text, and ``parse_time`` for what
run.json, the catalog and event files hold (ISO text, ``Z`` allowed, or naive UTC)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def utc_now_iso() -> str:
    """Now, as run.json and the artifact records write it: ``2026-11-30T16:51:41.123456+00:00``."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO text (``Z`` allowed) or a datetime (naive means UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
