"""Server API tokens in the catalog: created, listed, revoked and checked here.

A token reads ``lbk_<id>_<secret>``: ``id`` (12 hex digits) is public and indexed, ``secret`` is
32 random bytes (URL-safe base64). The catalog keeps the id, a random salt and
``sha256(salt + secret)``, never the token: a copy of the database holds nothing usable. The
check looks the id up, then compares hashes in constant time (``hmac.compare_digest``).

Scopes are ordered: ``read`` < ``write`` < ``admin``; a token may be bound to one project.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.catalog.catalog import Catalog, _utc, as_aware
from labbook.errors import InvalidValueError, NotFoundError

SCOPES = ("read", "write", "admin")
PREFIX = "lbk_"
_TOKEN = re.compile(r"^lbk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_LAST_USED_EVERY = timedelta(seconds=60)  # "last used" is written at most this often
T = schema.api_tokens


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256((salt + secret).encode()).hexdigest()


def _public(row: Any) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "scope": row.scope, "project": row.project,
            "created_at": as_aware(row.created_at), "expires_at": as_aware(row.expires_at),
            "revoked_at": as_aware(row.revoked_at), "last_used_at": as_aware(row.last_used_at)}


def create_token(catalog: Catalog, name: str, scope: str, project: str | None = None,
                 expires_at: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """A new token: (the token, shown this once; its public record)."""
    if scope not in SCOPES:
        raise InvalidValueError(f"scope={scope!r} is not a token scope. Use one of: {', '.join(SCOPES)}.")
    if not name or len(name) > 255:
        raise InvalidValueError(f"Token name {name!r} must be 1-255 characters.")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    now = datetime.now(timezone.utc)
    with catalog.engine.begin() as conn:
        conn.execute(T.insert().values(id=token_id, name=name, scope=scope, project=project, salt=salt,
                                       hash=_digest(salt, secret), created_at=_utc(now),
                                       expires_at=_utc(expires_at)))
        row = conn.execute(sa.select(T).where(T.c.id == token_id)).one()
    return f"{PREFIX}{token_id}_{secret}", _public(row)


def list_tokens(catalog: Catalog) -> list[dict[str, Any]]:
    with catalog.engine.connect() as conn:
        return [_public(r) for r in conn.execute(sa.select(T).order_by(T.c.created_at, T.c.id))]


def revoke_token(catalog: Catalog, id_or_name: str) -> list[dict[str, Any]]:
    """Revoke the token with this id, or every live token with this name; returns them."""
    now = _utc(datetime.now(timezone.utc))
    with catalog.engine.begin() as conn:
        match = sa.or_(T.c.id == id_or_name, T.c.name == id_or_name)
        rows = conn.execute(sa.select(T).where(match, T.c.revoked_at.is_(None))).all()
        if not rows:
            raise NotFoundError(f"No live token with id or name {id_or_name!r}. "
                                "List them with 'labbook server token ls'.")
        conn.execute(T.update().where(T.c.id.in_([r.id for r in rows])).values(revoked_at=now))
        rows = conn.execute(sa.select(T).where(T.c.id.in_([r.id for r in rows]))).all()
    return [_public(r) for r in rows]


def check_token(catalog: Catalog, token: str) -> tuple[dict[str, Any] | None, str]:
    """(the token's record, "") when ``token`` is live; (None, why) when it is not."""
    match = _TOKEN.match(token or "")
    if match is None:
        return None, "the token is malformed (expected lbk_<id>_<secret>)"
    token_id, secret = match.groups()
    with catalog.engine.connect() as conn:
        row = conn.execute(sa.select(T).where(T.c.id == token_id)).first()
    if row is None or not hmac.compare_digest(row.hash, _digest(row.salt, secret)):
        return None, "the token is not known"
    now = datetime.now(timezone.utc)
    if row.revoked_at is not None:
        return None, "the token was revoked"
    if row.expires_at is not None and as_aware(row.expires_at) <= now:
        return None, "the token has expired"
    last = as_aware(row.last_used_at)
    if last is None or now - last > _LAST_USED_EVERY:
        with catalog.engine.begin() as conn:
            conn.execute(T.update().where(T.c.id == token_id).values(last_used_at=_utc(now)))
    return _public(row), ""
