"""Compressed responses: the dashboard's pre-compressed files and gzipped JSON.

- ``PrecompressedFiles``: static files served as the ``.br`` or ``.gz`` file the build wrote beside
  each one (``ui/scripts/compress.mjs``) when the request's ``Accept-Encoding`` takes it, with
  ``Content-Encoding`` and ``Vary: Accept-Encoding``; the plain file otherwise and for ``Range``
  requests. Files under ``assets/`` carry a content hash in their name and are cached for a year
  (``immutable``); every other file (``index.html``, ``vendor/``) is revalidated (``no-cache``).
- ``JsonGzip``: ASGI middleware gzipping ``application/json`` responses of at least
  ``minimum_size`` bytes that are sent in one piece (``JSONResponse`` is). Anything sent in
  several pieces (a stream, a follow), any other type (media, HTML), a file (it takes ``Range``
  requests: ``Accept-Ranges``, even a ``.json`` one), a ``206`` partial answer and an answer that
  already has a ``Content-Encoding`` pass unchanged. With ``skip_loopback`` (``labbook ui``: a
  local-only server), answers to a loopback peer are sent as they are: on the same machine the
  bytes cost nothing to move and packing them costs the server CPU the page waits for (4 MB of a
  100-run comparison's series: 0.1-0.2 s at level 5 on a 2-core machine, for nothing).
"""

from __future__ import annotations

import gzip
import ipaddress
import mimetypes
import os
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles

# The encodings the build writes, best first, with the suffix of their file.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
THREAD_FROM = 64 * 1024  # JSON bodies from this size are gzipped in a worker thread


def accepted(header: str | None) -> set[str]:
    """The content codings an ``Accept-Encoding`` header takes (``q=0`` means refused; ``*`` takes all)."""
    taken: set[str] = set()
    refused: set[str] = set()
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        (taken if q > 0 else refused).add(name)
    if "*" in taken:
        taken |= {name for name, _ in ENCODINGS if name not in refused}
    return taken - refused


class PrecompressedFiles(StaticFiles):
    """StaticFiles that sends a file's pre-compressed sibling when the client takes its encoding."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Any,
                      status_code: int = 200) -> Response:
        request = Headers(scope=scope)
        path = os.fspath(full_path)
        siblings = [(name, path + suffix) for name, suffix in ENCODINGS if os.path.isfile(path + suffix)]
        chosen = None
        if siblings and "range" not in request:
            taken = accepted(request.get("accept-encoding"))
            chosen = next(((name, sibling) for name, sibling in siblings if name in taken), None)
        if chosen is None:
            response = FileResponse(full_path, status_code=status_code, stat_result=stat_result)
        else:
            name, sibling = chosen
            media_type = mimetypes.guess_type(path)[0] or "text/plain"  # the plain file's, as FileResponse guesses it
            response = FileResponse(sibling, status_code=status_code, stat_result=os.stat(sibling), media_type=media_type)
            response.headers["content-encoding"] = name
        if siblings:
            response.headers["vary"] = "Accept-Encoding"
        hashed = os.path.relpath(path, self.directory or ".").split(os.sep)[0] == "assets"
        response.headers["cache-control"] = IMMUTABLE if hashed else REVALIDATE
        if self.is_not_modified(response.headers, request):
            return NotModifiedResponse(response.headers)
        return response


def loopback_peer(scope: Any) -> bool:
    """True when the request's peer is a loopback address (the browser on the server's machine)."""
    client = scope.get("client")
    try:
        return bool(client) and ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


class JsonGzip:
    """Gzips one-piece JSON answers of at least ``minimum_size`` bytes for clients that take gzip
    (except a loopback peer's, with ``skip_loopback``)."""

    def __init__(self, app: Any, minimum_size: int = 1024, level: int = 5, skip_loopback: bool = False) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level
        self.skip_loopback = skip_loopback

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (scope["type"] != "http" or "gzip" not in accepted(Headers(scope=scope).get("accept-encoding"))
                or (self.skip_loopback and loopback_peer(scope))):
            return await self.app(scope, receive, send)
        start: dict[str, Any] | None = None
        passing = False

        async def gzipping(message: Any) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                headers = Headers(raw=message.get("headers", []))
                if (message["status"] == 206 or "content-encoding" in headers or "accept-ranges" in headers
                        or not headers.get("content-type", "").startswith("application/json")):
                    passing = True
                    return await send(message)
                start = message
                return None
            if passing or message["type"] != "http.response.body" or start is None:
                return await send(message)
            held, start = start, None
            body = message.get("body", b"")
            if message.get("more_body", False) or len(body) < self.minimum_size:
                passing = True  # a stream, or too small to gain: as it is
                await send(held)
                return await send(message)
            if len(body) < THREAD_FROM:
                packed = gzip.compress(body, compresslevel=self.level, mtime=0)
            else:  # a large body is packed off the event loop
                packed = await anyio.to_thread.run_sync(lambda: gzip.compress(body, compresslevel=self.level, mtime=0))
            headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
            headers += [(b"content-encoding", b"gzip"), (b"content-length", str(len(packed)).encode())]
            vary = [v for k, v in headers if k.lower() == b"vary"]
            if not any(b"accept-encoding" in v.lower() for v in vary):
                headers = [(k, v) for k, v in headers if k.lower() != b"vary"]
                headers.append((b"vary", b", ".join([*vary, b"Accept-Encoding"])))
            await send({**held, "headers": headers})
            await send({**message, "body": packed})

        await self.app(scope, receive, gzipping)
