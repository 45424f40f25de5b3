"""Opaque keyset cursors: the sort key of a page's last row, as URL-safe base64 JSON.

A cursor also carries a fingerprint of the query that made it (filter, order...), so one used
with another query is refused (400) instead of comparing values of the wrong kind."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

import orjson

from labbook.server.errors import ApiError


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps([str(p) for p in parts])).hexdigest()[:12]


def encode(values: list[Any], query: str = "") -> str:
    tagged = [query] + [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(orjson.dumps(tagged)).decode().rstrip("=")


def decode(cursor: str | None, query: str = "") -> list[Any] | None:
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
        if not values or values[0] != query:
            raise ValueError("made for another query")
        return [datetime.fromisoformat(v["t"]) if isinstance(v, dict) and set(v) == {"t"} else v
                for v in values[1:]]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise ApiError(400, f"cursor={cursor[:40]!r} is not a cursor this server made.", code="bad_cursor",
                       field="cursor", hint="Pass the next_cursor of the previous page unchanged, "
                                            "with the same query (filter, order, project).") from None


def page_of(items: list[Any], key: Any, limit: int, token: str | None, query: str) -> tuple[list[Any], str | None]:
    """One keyset page of ``items`` (already sorted by ``key``, a function giving a tuple of
    scalars): the items after the cursor's key, at most ``limit``, and the next page's cursor
    (None at the end). For lists a route holds whole in memory (projects, steps, files...)."""
    after = decode(token, query)
    if after is not None:
        try:
            items = [item for item in items if tuple(key(item)) > tuple(after)]
        except TypeError:
            raise ApiError(400, f"cursor={token[:40]!r} was made by another list.", code="bad_cursor",  # type: ignore[index]
                           field="cursor", hint="Pass the next_cursor of the previous page unchanged.") from None
    page = items[:limit]
    next_cursor = encode(list(key(page[-1])), query) if len(items) > limit and page else None
    return page, next_cursor
