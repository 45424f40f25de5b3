"""Request-level protections, as plain ASGI middleware (they see every request, routed or not).

- ``HostGuard``: the ``Host`` header (and ``Origin``, when a browser sends one) must name an
  allowed host: localhost names, the bound host and ``LABBOOK_SERVER_ALLOWED_HOSTS``. A page on
  another site that rebinds its DNS name to 127.0.0.1 (DNS rebinding) is refused with 400/403.
- ``BodyLimit``: a request body over ``LABBOOK_SERVER_MAX_BODY`` bytes is refused with 413,
  by its Content-Length or while it streams in.
- ``SecurityHeaders``: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` on
  every response, and ``Server-Timing: app;dur=<ms>`` (the time the server spent until it started
  answering; bench/bench_server.py reads it).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from labbook.server.errors import BodyTooLarge, error_body

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")


def allowed_hosts(bound_host: str | None, extra: str | None) -> set[str]:
    hosts = {h for h in LOCAL_HOSTS}
    if bound_host and bound_host not in ("0.0.0.0", "::"):
        hosts.add(bound_host.lower())
    for item in (extra or "").split(","):
        if item.strip():
            hosts.add(item.strip().lower())
    return hosts


def _hostname(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _send_error(send: Any, status: int, message: str, code: str, field: str, hint: str) -> None:
    body = orjson.dumps(error_body(status, message, code, field, hint))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class HostGuard:
    def __init__(self, app: Any, hosts: set[str]) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _hostname(headers.get("host", ""))
        hint = "Add the name to LABBOOK_SERVER_ALLOWED_HOSTS if it is really this server's."
        if host not in self.hosts and host.strip("[]") not in self.hosts:
            return await _send_error(send, 400, f"Host {headers.get('host', '')[:100]!r} is not one this "
                                     "server answers to.", "bad_host", "Host", hint)
        origin = headers.get("origin")
        if origin and origin != "null":
            origin_host = _hostname(urlsplit(origin).netloc)
            if origin_host not in self.hosts and origin_host.strip("[]") not in self.hosts:
                return await _send_error(send, 403, f"Origin {origin[:100]!r} may not call this server.",
                                         "bad_origin", "Origin", hint)
        return await self.app(scope, receive, send)


class BodyLimit:
    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        hint = "Send smaller batches, or raise LABBOOK_SERVER_MAX_BODY on the server."
        for key, value in scope.get("headers", []):
            if key.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.limit or declared < 0:
                    return await _send_error(send, 413, f"The request body ({value.decode()[:20]} bytes) is over "
                                             f"the server's limit of {self.limit} bytes.", "body_too_large",
                                             "body", hint)
        received = 0
        answered = False  # the 413 went out: whatever the application answers is dropped

        async def counted() -> Any:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    answered = True
                    await _send_error(send, 413, str(BodyTooLarge(self.limit)), "body_too_large", "body", hint)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            if not answered:
                await send(message)

        await self.app(scope, counted, guarded_send)


class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"no-referrer"))
                elapsed = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={elapsed:.2f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
