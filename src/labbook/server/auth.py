"""Who may call what: deny by default, tokens in the Authorization header only.

Every API route declares the scope it needs (``read``, ``write`` or ``admin``; ``public`` for the
health check alone, which returns no data) in its
``openapi_extra`` (``x-labbook-scope``, so the OpenAPI document shows it too). ``authorize``
runs before every route (an application-wide dependency): a route that declares no scope is
refused to everyone. Rules, in order:

1. ``labbook ui`` (local-only mode) allows every request whose peer is a loopback address.
2. ``--public-read`` allows ``read`` routes without a token.
3. Otherwise the request needs ``Authorization: Bearer lbk_...`` naming a live token whose scope
   covers the route's (read < write < admin).

A token in the URL (a parameter named ``token``, ``access_token``... in any case, or any value
shaped like a token) is refused with 400 on every route, before anything else.

Per-object checks (a token bound to one project) happen in ``labbook.server.data``.
"""

from __future__ import annotations

import ipaddress
import re

from fastapi import Request

from labbook.server.data import FULL, SCOPE_ORDER, Access
from labbook.server.errors import ApiError

SCOPE_KEY = "x-labbook-scope"
PUBLIC = "public"  # declared by routes that return no data (the health check) only
_URL_TOKEN_PARAMS = ("token", "access_token", "api_key", "apikey", "write_token")
_TOKEN_SHAPE = re.compile(r"lbk_[0-9a-f]{12}_")


def scope(name: str) -> dict:
    """``openapi_extra`` for a route needing scope ``name``."""
    assert name in SCOPE_ORDER or name == PUBLIC, name
    return {SCOPE_KEY: name}


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_in_url(request: Request) -> bool:
    """A query parameter named like a token, or any value holding one (``lbk_<12 hex>_``)."""
    return any(name.lower() in _URL_TOKEN_PARAMS or _TOKEN_SHAPE.search(value)
               for name, value in request.query_params.multi_items())


def authorize(request: Request) -> Access:
    route = request.scope.get("route")
    needed = (getattr(route, "openapi_extra", None) or {}).get(SCOPE_KEY)
    if _token_in_url(request):  # on every route, the open ones too: the URL is already in some log
        raise ApiError(400, "Tokens are never accepted in URLs (they end up in logs and browser history).",
                       code="token_in_url", field="token",
                       hint="Send it as a header: Authorization: Bearer lbk_...; and revoke this one.")
    if needed == PUBLIC:
        request.state.access = Access("read", project="")  # sees no project
        return request.state.access
    if needed not in SCOPE_ORDER:
        raise ApiError(403, f"{request.url.path} declares no access scope, so nobody may call it.",
                       code="no_scope", hint="A route must declare read, write or admin.")
    settings = request.app.state.settings
    if settings.server_local_only and _loopback(request.client.host if request.client else None):
        access = FULL
    else:
        access = _from_header(request, needed, settings.server_public_read)
    if not access.allows(needed):
        raise ApiError(403, f"This token has scope {access.scope!r}; {request.method} {request.url.path} "
                            f"needs {needed!r}.", code="insufficient_scope",
                       hint=f"Create a token with: labbook server token create --scope {needed}")
    request.state.access = access
    return access


def _from_header(request: Request, needed: str, public_read: bool) -> Access:
    header = request.headers.get("authorization")
    if header is None:
        if public_read and needed == "read":
            return Access("read")
        raise ApiError(401, f"{request.method} {request.url.path} needs a token with scope {needed!r}.",
                       code="unauthorized", hint="Send Authorization: Bearer <token>; create one with "
                                                 "'labbook server token create'.",
                       headers={"WWW-Authenticate": "Bearer"})
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise ApiError(401, "The Authorization header must be 'Bearer <token>'.", code="unauthorized",
                       field="Authorization", headers={"WWW-Authenticate": "Bearer"})
    record, why = request.app.state.data.check_token(token.strip())
    if record is None:
        raise ApiError(401, f"Token refused: {why}.", code="invalid_token", field="Authorization",
                       hint="Create a new one with 'labbook server token create'.",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return Access(record["scope"], record["project"], record["id"])


def access_of(request: Request) -> Access:
    """The Access ``authorize`` granted to this request (route code asks this)."""
    return request.state.access
