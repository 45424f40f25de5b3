"""Opaque keyset cursors: the sort key of a page's last row, as URL-safe base64 JSON."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import orjson

from labbook.server.errors import ApiError


def encode(values: list[Any]) -> str:
    tagged = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(tagged)).decode().rstrip("=")


def decode(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
        if not isinstance(values, list) or len(values) > 64:
            raise ValueError("not a list")
        if any(not isinstance(v, (str, int, float, type(None))) and not (isinstance(v, dict) and set(v) == {"t"})
               for v in values):
            raise ValueError("not scalars")
        return [datetime.fromisoformat(v["t"]) if isinstance(v, dict) and set(v) == {"t"} else v
                for v in values]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise ApiError(400, f"cursor={cursor[:40]!r} is not a cursor this server made.", code="bad_cursor",
                       field="cursor", hint="Pass the next_cursor of the previous page unchanged, "
                                            "with the same filter and order_by.") from None
