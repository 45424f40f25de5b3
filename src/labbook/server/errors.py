"""One JSON shape for every error the API returns::

    {"error": {"code": "not_found", "message": "...", "field": "uuid", "hint": "..."}}

Library errors (``LabbookError``) map to a status by class; FastAPI's and Starlette's own errors
(404, 405, 422...) are rewritten into the same shape, and anything unexpected becomes a 500 with
no traceback in the body (the traceback goes to the server's log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from labbook.errors import (
    CatalogError,
    ConfigError,
    InvalidNameError,
    InvalidValueError,
    LabbookError,
    NotFoundError,
    PathEscapeError,
    QueryError,
    RunStateError,
    SyncConflictError,
)

log = logging.getLogger("labbook.server")

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "body_too_large",
                 415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
                 500: "internal", 503: "unavailable"}

# library error class -> (status, code, hint)
_LIBRARY = (
    (NotFoundError, 404, "not_found", "Check the named value: GET /api/v1/projects, /api/v1/runs and "
                                      "/api/v1/artifacts list what this server holds for your token."),
    (QueryError, 400, "bad_query", "See the filter language in docs/server.md (and labbook.catalog.query)."),
    (PathEscapeError, 403, "forbidden_path", "Paths must stay inside the run folder or the configured stores."),
    (InvalidNameError, 422, "invalid_name", None),
    (InvalidValueError, 422, "invalid_value", None),
    (RunStateError, 409, "run_state", None),
    (SyncConflictError, 409, "conflict", "Ask GET /api/v1/sync/runs/{uuid} what the server holds and send from there."),
    (ConfigError, 422, "invalid_value", None),
    (CatalogError, 503, "catalog_unavailable", None),
)


class ApiError(Exception):
    """An error the API answers with: HTTP status, a stable code, the field at fault, a hint."""

    def __init__(self, status: int, message: str, *, code: str | None = None, field: str | None = None,
                 hint: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, "error")
        self.message = message
        self.field = field
        self.hint = hint
        self.headers = headers


class BodyTooLarge(Exception):
    """A request body over the limit (guards.BodyLimit answers 413 with this message)."""

    def __init__(self, limit: int = 0) -> None:
        super().__init__(f"The request body is over the server's limit of {limit} bytes.")
        self.limit = limit


def error_body(status: int, message: str, code: str | None = None, field: str | None = None,
               hint: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code or _STATUS_CODES.get(status, "error"), "message": message,
                      "field": field, "hint": hint}}


def error_response(status: int, message: str, code: str | None = None, field: str | None = None,
                   hint: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code, field, hint), status_code=status, headers=headers)


def library_error(error: LabbookError, field: str | None = None) -> ApiError:
    for cls, status, code, hint in _LIBRARY:
        if isinstance(error, cls):
            return ApiError(status, str(error), code=code, field=field, hint=hint)
    return ApiError(400, str(error), code="bad_request", field=field)


def _field(location: tuple) -> str | None:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(location[-1]) if location else None)


def _field_named(request: Request, message: str) -> str | None:
    """The request's parameter whose value the library's message quotes (the run id, the metric's
    name, the URI...): the field at fault, for errors raised below the routes."""
    params = [(n, v) for n, v in (*request.query_params.items(), *request.path_params.items())
              if isinstance(v, str) and len(v) >= 2]
    quoted = [n for n, v in params if repr(v) in message]  # quoted first: 'name' over a run id in passing
    return (quoted or [n for n, v in params if v in message] or [None])[0]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.message, error.code, error.field, error.hint, error.headers)

    @app.exception_handler(LabbookError)
    async def _library(request: Request, error: LabbookError) -> JSONResponse:
        api = library_error(error, _field_named(request, str(error)))
        return error_response(api.status, api.message, api.code, api.field, api.hint)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        first = problems[0] if problems else {}
        field = _field(tuple(first.get("loc") or ()))
        message = "; ".join(f"{_field(tuple(p.get('loc') or ())) or 'request'}: {p.get('msg')}"
                            for p in problems[:5])
        return error_response(422, message or "The request is not valid.", "invalid_request", field,
                              "Fix the named field; the API's schema is at /api/v1/docs.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = error.detail if isinstance(error.detail, str) else str(error.detail)
        hint = None
        if error.status_code == 404:
            message = f"No route {request.method} {request.url.path}."
            hint = "The routes are listed at /api/v1/docs."
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
            hint = f"Allowed: {error.headers.get('Allow')}." if error.headers else None
        return error_response(error.status_code, message, hint=hint, headers=error.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, f"The server failed on this request ({type(error).__name__}).",
                              hint="This is a bug in labbook; the server's log has the details.")
