"""API tokens of a labbook server: create, list, revoke and check them.

::

    from labbook import tokens

    secret, info = tokens.create_token("ci", "write", project="churn", expires="30d")
    tokens.list_tokens()                 # public records: id, name, scope, project, times
    tokens.revoke_token("ci")

Only a salted hash of each token is stored, in the catalog (see ``labbook.catalog.tokens``), so
every server process on one catalog accepts the same tokens. ``labbook server token ...`` is
the command-line face of these functions.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from labbook.config import Settings
from labbook.errors import InvalidValueError
from labbook.store.names import check_project

SCOPES = ("read", "write", "admin")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(expires: str | timedelta | datetime | None) -> datetime | None:
    """``"30d"``, ``"12h"``, ``"2w"``, a timedelta or a datetime: when a token stops working."""
    if expires is None or isinstance(expires, datetime):
        return expires
    if isinstance(expires, timedelta):
        return datetime.now(timezone.utc) + expires
    match = _DURATION.match(str(expires))
    if match is None or int(match.group(1)) == 0:
        raise InvalidValueError(f"expires={expires!r} is not a duration. Use a number and a unit: "
                                "30d, 12h, 90m, 2w.")
    return datetime.now(timezone.utc) + timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@contextlib.contextmanager
def _catalog(home: str | Path | None, catalog: Any = None):
    """``catalog`` when given (a workspace's, kept open), else the home's, opened for one call."""
    if catalog is not None:
        yield catalog
        return
    from labbook.catalog.catalog import Catalog

    opened = Catalog(Settings.load({}, home=home).catalog_url)
    try:
        yield opened
    finally:
        opened.close()


def create_token(name: str, scope: str = "read", *, project: str | None = None,
                 expires: str | timedelta | datetime | None = None,
                 home: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """A new token for ``scope`` (read, write or admin), optionally bound to ``project`` and
    expiring after ``expires``: returns (the token, shown only now; its public record)."""
    from labbook.catalog.tokens import create_token as create

    if project is not None:
        check_project(project)
    with _catalog(home) as catalog:
        return create(catalog, name, scope, project, parse_expiry(expires))


def list_tokens(*, home: str | Path | None = None, catalog: Any = None) -> list[dict[str, Any]]:
    """Every token's public record (never the token itself), oldest first."""
    from labbook.catalog.tokens import list_tokens as listed

    with _catalog(home, catalog) as opened:
        return listed(opened)


def revoke_token(id_or_name: str, *, home: str | Path | None = None) -> list[dict[str, Any]]:
    """Revoke the token with this id, or every live token with this name."""
    from labbook.catalog.tokens import revoke_token as revoke

    with _catalog(home) as catalog:
        return revoke(catalog, id_or_name)


def check_token(token: str, *, home: str | Path | None = None,
                catalog: Any = None) -> tuple[dict[str, Any] | None, str]:
    """(the token's public record, "") when ``token`` is live, else (None, the reason);
    ``catalog``: an open one to use (a server's workspace's), else the home's."""
    from labbook.catalog.tokens import check_token as check

    with _catalog(home, catalog) as opened:
        return check(opened, token)
