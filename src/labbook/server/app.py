"""The FastAPI application: routes under /api/v1, guards, one error shape, deny by default.

``create_app()`` builds it from the settings (``labbook.config``: the home, the catalog URL, the
artifact store and the ``server_*`` settings). ``labbook server`` and ``labbook ui`` serve it with
uvicorn (``labbook.server.app:create_app``, a factory, so every worker builds its own).
"""

from __future__ import annotations

import mimetypes
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from starlette.routing import Route

from labbook import __version__
from labbook.config import Settings
from labbook.server import errors, guards, models
from labbook.server.auth import authorize
from labbook.server.compression import JsonGzip, PrecompressedFiles
from labbook.server.data import ServerData

API = "/api/v1"

# The dashboard runs under this policy: its own scripts, styles and API only (docs/dashboard.md).
# Frames and media come from the API only: logged HTML and charts are sandboxed pages (routes_media).
DASHBOARD_CSP = ("default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
                 "img-src 'self' data: blob:; media-src 'self' blob:; frame-src 'self'; "
                 "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>labbook</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>labbook</h1>
<p>This is a labbook server. Its REST API is described at <a href="/api/v1/docs">/api/v1/docs</a>
(OpenAPI document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>).</p>
<p>The dashboard is not built in this installation (in a source checkout:
<code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p>
</body></html>
"""

JSON_GZIP_FROM = 1024  # JSON answers from this many bytes go gzipped to clients that take it

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": models.ErrorResponse, "description": text}
    for status, text in ((400, "Bad request"), (401, "No or bad token"), (403, "Not allowed"),
                         (404, "Not found"), (413, "Body too large"), (422, "Invalid request"),
                         (500, "Server error"))
}


class DashboardFiles(PrecompressedFiles):
    """The dashboard's built files, each sent with the dashboard's Content-Security-Policy (and
    pre-compressed when the browser takes it: ``labbook.server.compression``)."""

    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = DASHBOARD_CSP
        return response


async def _warm_up_routes(app: Any) -> None:
    """Two requests through the whole application, in process: a series of a run that does not
    exist, with a token nobody holds (401: the token lookup runs; 404 where loopback needs no
    token), and a path no route matches. FastAPI
    prepares a router's routes (their parameters' and responses' validators) on the first
    request that walks it, 0.3-0.5 s on a loaded 2-core machine: here, not on a user's request."""
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    nobody = b"Bearer lbk_" + b"0" * 12 + b"_" + b"A" * 43  # well formed, so it is looked up
    for path, query in ((f"{API}/runs/{'0' * 32}/metrics/series", b"name=warm-up&points=2"),
                        (f"{API}/warm-up/no-such-route", b"")):
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
                 "root_path": "", "headers": [(b"host", b"127.0.0.1"), (b"authorization", nobody)], "client": ("127.0.0.1", 0),
                 "server": ("127.0.0.1", 80), "state": {}}
        await app(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application for ``settings`` (default: ``Settings.load()``, from the environment).

    Refuses (CatalogError) when the catalog's schema is older than this version's."""
    settings = settings or Settings.load({})
    data = ServerData(settings)
    data.check_catalog()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # before the first connection is accepted, so that a fresh server's first request pays
        # for its own data only: the series code run once, and FastAPI's routes prepared
        data.warm_up()
        await _warm_up_routes(app)
        yield
        data.close()

    app = FastAPI(title="labbook", version=__version__, lifespan=lifespan,
                  description="The labbook REST API: runs, series, events, files, artifacts, lineage. "
                              "Send Authorization: Bearer <token>. Errors share one JSON shape.",
                  openapi_url=f"{API}/openapi.json", docs_url=f"{API}/docs", redoc_url=None,
                  swagger_ui_oauth2_redirect_url=None,
                  dependencies=[Depends(authorize)], responses=ERROR_RESPONSES)
    app.state.settings = settings
    app.state.data = data
    errors.install(app)

    from labbook.server import routes_artifacts, routes_media, routes_names, routes_runs, routes_sync, routes_write

    # routes_names first: its /runs/count must win over /runs/{uuid}
    for module in (routes_names, routes_runs, routes_artifacts, routes_media, routes_write, routes_sync):
        app.include_router(module.router, prefix=API)

    # The empty page a token-holding dashboard writes fetched HTML and charts into (no data, no token).
    app.router.routes.append(Route("/shell/{kind}", routes_media.shell_page, methods=["GET"], include_in_schema=False))

    from labbook.dashboard import static_dir

    dashboard = static_dir()
    if dashboard is not None:
        # Mounted after the API routes, so /api/v1/... never reaches it; the bundle holds no data.
        mimetypes.init()  # read the system's type table now, not while the first page waits
        app.mount("/", DashboardFiles(directory=dashboard, html=True), name="dashboard")
    else:
        async def index(request):
            return HTMLResponse(INDEX, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

        app.router.routes.append(Route("/", index, methods=["GET"], include_in_schema=False))

    if settings.server_cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        origins = [o.strip() for o in settings.server_cors_origins.split(",") if o.strip()]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type"])
    # a local-only server (labbook ui) answers its own machine's browser unpacked (compression.py)
    app.add_middleware(JsonGzip, minimum_size=JSON_GZIP_FROM, skip_loopback=settings.server_local_only)
    app.add_middleware(guards.SecurityHeaders)
    app.add_middleware(guards.BodyLimit, limit=settings.server_max_body)
    cors_hosts = {guards._hostname(o.split("://", 1)[-1]) for o in (settings.server_cors_origins or "").split(",") if o.strip()}
    app.add_middleware(guards.HostGuard,
                       hosts=guards.allowed_hosts(None, settings.server_allowed_hosts) | cors_hosts)
    return app
