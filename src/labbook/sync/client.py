"""The HTTP side of sync: one ``httpx`` client, retries with backoff, bytes counted.

A network cut, a server restart, a 5xx or a 429 is retried with exponential backoff (0.2 s
doubling to 5 s, with jitter) until the request's deadline or until ``stop`` is set; then
``SyncUnavailableError`` says what is left. Every request of the protocol is idempotent, so a
retry after a lost answer changes nothing. A 4xx is the caller's fault and raised at once as
the matching ``LabbookError`` (404 ``NotFoundError``, 409 ``SyncConflictError``).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from labbook.errors import LabbookError, NotFoundError, SyncConflictError, SyncUnavailableError

__all__ = ["SyncClient", "SyncUnavailableError"]

API = "/api/v1"
RETRY_STATUS = {429, 500, 502, 503, 504}


class SyncClient:
    """Requests to one labbook server. ``data_bytes`` counts the payload bytes sent (file
    contents: appends, records, blob parts), every attempt included; ``requests`` the calls."""

    def __init__(self, host: str, token: str | None = None, *, timeout: float = 30.0,
                 stop: threading.Event | None = None) -> None:
        import httpx

        self.host = host.rstrip("/")
        headers = {"User-Agent": "labbook-sync"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.host + API, headers=headers, timeout=timeout)
        self._httpx = httpx
        self.stop = stop or threading.Event()
        self.data_bytes = 0
        self.requests = 0
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, url: str, *, deadline: float | None = None, data: bytes | None = None,
             ok_missing: bool = False, raw: bool = False, **kwargs: Any) -> Any:
        """The JSON answer of ``method url`` (``raw``: the response), retried as the module
        docstring says. With ``ok_missing``, a 404 returns None. ``data``: a raw body, counted
        in ``data_bytes``."""
        delay = 0.2
        while True:
            problem = None
            try:
                with self._count_lock:
                    self.requests += 1
                    self.data_bytes += len(data) if data is not None else 0
                if data is not None:
                    kwargs["content"] = data
                    kwargs.setdefault("headers", {})["Content-Type"] = "application/octet-stream"
                response = self._http.request(method, url, **kwargs)
            except self._httpx.HTTPError as error:  # connection refused, reset, timeout...
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    return response if raw else response.json()
                if response.status_code not in RETRY_STATUS:
                    if response.status_code == 404 and ok_missing:
                        return None
                    raise _error(response, method, url)
                problem = f"HTTP {response.status_code}"
            if self.stop.is_set() or (deadline is not None and time.monotonic() + delay > deadline):
                raise SyncUnavailableError(f"{self.host} did not answer {method} {url} ({problem}); "
                                           "what is not sent stays in the run folder: 'labbook sync' sends it later.")
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    def manifest(self, uuid: str, *, deadline: float | None = None, first: dict[str, Any] | None = None,
                 ok_missing: bool = False) -> dict[str, Any] | None:
        """What the server holds of run ``uuid`` (``{uuid, project, files}``), every keyset page
        of its manifest followed; ``first``: a first page answered already (by the run's
        creation). With ``ok_missing``, None for a run the server does not have."""
        url = f"/sync/runs/{uuid}"
        answer = first if first is not None else self.call("GET", url, deadline=deadline, ok_missing=ok_missing)
        if answer is None:
            return None
        files = dict(answer["files"])
        while answer.get("next_cursor"):
            answer = self.call("GET", url, deadline=deadline, params={"cursor": answer["next_cursor"]})
            files.update(answer["files"])
        return {**answer, "files": files, "next_cursor": None}

    def download(self, url: str, *, deadline: float | None = None) -> bytes:
        """The raw bytes of a GET (retried like ``call``)."""
        return self.call("GET", url, deadline=deadline, raw=True).content


def _error(response: Any, method: str, url: str) -> LabbookError:
    try:
        body = response.json().get("error", {})
        message = body.get("message") or response.text
        if body.get("hint"):
            message = f"{message} {body['hint']}"
    except ValueError:
        message = response.text[:500]
    text = f"{method} {url}: {response.status_code} {message}"
    if response.status_code == 404:
        return NotFoundError(text)
    if response.status_code == 409:
        return SyncConflictError(text)
    return LabbookError(text)
