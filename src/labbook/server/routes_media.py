"""Sandboxed pages for logged HTML and charts, which the dashboard shows in ``<iframe sandbox>``.

Logged HTML and chart specs are user content: they must never run in the dashboard's origin.
Each page is served with ``Content-Security-Policy: sandbox ...`` (without ``allow-same-origin``),
so even opened directly it lives in an opaque origin: no cookies, no local storage, no API.

- ``/runs/{uuid}/render/html``: the HTML event at a step, scripts off (``sandbox`` alone).
- ``/runs/{uuid}/table``: one page of rows of a logged CSV or Parquet table, as JSON.
- ``/artifacts/render``: an HTML artifact version as a page, scripts off (like logged HTML).
- ``/shell/{kind}`` (outside the API): an empty page holding no data, into which a dashboard that
  needs a token writes the page it fetched with its header (the same policy, the same opaque origin).
- ``/artifacts/stats``: per-column statistics and histograms of a dataset version (CSV/Parquet).
- ``/runs/{uuid}/render/chart``: a plotly, vega/altair or bokeh chart drawn by its own library,
  which the dashboard's build copies into ``vendor/`` (never fetched from the internet). Scripts
  run, but only in the opaque origin and only from this server.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from labbook.errors import NotFoundError
from labbook.server.auth import scope
from labbook.server.errors import ApiError
from labbook.server.routes_runs import Data, Who

router = APIRouter(tags=["events"])

# Scripts off; inline styles and embedded (data:) images allowed, nothing fetched.
HTML_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
# Scripts on in an opaque origin, only this server's vendor files; vega compiles expressions (eval).
CHART_CSP = ("sandbox allow-scripts; default-src 'none'; script-src 'self' 'unsafe-eval'; "
             "style-src 'self' 'unsafe-inline'; img-src data: blob:; font-src data:; connect-src 'none'")
LIBRARIES = {
    "plotly": ["plotly.min.js"],
    "vega": ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"],
    "bokeh": ["bokeh.min.js"],
}
# A team server's dashboard cannot load a frame by URL (no Authorization header goes with it, and a
# token never goes in a URL): it fetches the page with its header and hands the text to this shell,
# which holds no data (no token needed) and writes the page into itself. The shell keeps the
# page's policy: its one inline script runs (allowed by hash), nothing the page brings does
# (HTML), or only this server's vendor files do (charts); the frame stays an opaque origin.
SHELL_SCRIPT = ("addEventListener('message',function f(e){if(e.source!==parent||e.origin!==location.origin"
                "||typeof e.data!=='string')return;removeEventListener('message',f);"
                "document.open();document.write(e.data);document.close()});parent.postMessage('labbook-shell','*')")
SHELL_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(SHELL_SCRIPT.encode()).digest()).decode() + "'"
SHELL_CSP = {
    "html": HTML_CSP.replace("sandbox;", "sandbox allow-scripts;") + f"; script-src {SHELL_HASH}",
    "chart": CHART_CSP.replace("script-src 'self'", f"script-src 'self' {SHELL_HASH}"),
}
PAGE_STYLE = "html,body{margin:0;font:13px system-ui,sans-serif;background:#fff}#chart{width:100%;height:100vh}"


def _event_at(data: Any, who: Any, uuid: str, kind: str, name: str, step: int | None) -> Any:
    """The event at ``step`` or the nearest before it (the last one when no step is given)."""
    found = data.events(who, uuid, kind, name)
    if step is not None:
        found = [e for e in found if e.step is not None and e.step <= step]
    if not found:
        raise NotFoundError(f"No {kind} event {name!r} at or before step {step} in run {uuid}.")
    return max(found, key=lambda e: (-1 if e.step is None else e.step, e.timestamp))


def _page(body: str, csp: str) -> HTMLResponse:
    return HTMLResponse(body, headers={"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
                                       "Cache-Control": "private, max-age=0"})


def shell_page(request: Request) -> Response:
    """``/shell/{kind}``: an empty sandboxed page that shows the HTML or chart page its dashboard
    posts to it. Outside the API, like the dashboard's own files: it holds no data."""
    kind = request.path_params["kind"]
    if kind not in SHELL_CSP:
        return Response(f"No shell {kind!r}; there are {', '.join(SHELL_CSP)}.", status_code=404,
                        media_type="text/plain")
    return _page(f"<!doctype html><meta charset=utf-8><script>{SHELL_SCRIPT}</script>", SHELL_CSP[kind])


@router.get("/runs/{uuid}/render/html", response_class=HTMLResponse, openapi_extra=scope("read"))
def render_html(uuid: str, data: Data, who: Who, name: str = Query(min_length=1, max_length=1024),
                step: int | None = None) -> HTMLResponse:
    """The logged HTML at ``step`` (nearest prior), as a page whose scripts never run."""
    event = _event_at(data, who, uuid, "html", name, step)
    value = event.value if isinstance(event.value, str) else json.dumps(event.value)
    return _page(f"<!doctype html><meta charset=utf-8><style>body{{margin:8px;font:13px system-ui,sans-serif}}"
                 f"</style>{value}", HTML_CSP)


def _finite(value: Any) -> Any:
    """NaN and infinities become null (JSON has no such numbers)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


PREVIEW_MAX = 10 * 1024 * 1024  # as MLRun: no preview past 10 MB


@router.get("/artifacts/render", response_class=HTMLResponse, openapi_extra=scope("read"))
def render_artifact(data: Data, who: Who, uri: str = Query(min_length=1, max_length=2048)) -> HTMLResponse:
    """An HTML version (a report, a plot) as a sandboxed page whose scripts never run."""
    version, path = data.artifact_file(who, uri)
    if (version.format or "").lower() not in ("html", "htm"):
        raise ApiError(422, f"{uri!r} is {version.format or 'not HTML'}; only HTML versions render as a page.",
                       code="not_html", field="uri")
    if version.size > PREVIEW_MAX:
        raise ApiError(413, f"{uri!r} has {version.size:,} bytes; previews stop at {PREVIEW_MAX:,}. Download it.",
                       code="too_large", field="uri")
    return _page(path.read_text(errors="replace"), HTML_CSP)


def _script_json(value: Any) -> str:
    """JSON safe inside <script type=application/json>: no '</' can close the element."""
    return json.dumps(value, allow_nan=False, default=str).replace("</", "<\\/").replace("<!--", "<\\!--")


@router.get("/runs/{uuid}/render/chart", response_class=HTMLResponse, openapi_extra=scope("read"))
def render_chart(uuid: str, data: Data, who: Who, name: str = Query(min_length=1, max_length=1024),
                 step: int | None = None) -> HTMLResponse:
    """The chart at ``step`` (nearest prior), drawn by its own library in a sandboxed page."""
    event = _event_at(data, who, uuid, "chart", name, step)
    value = event.value if isinstance(event.value, dict) else {}
    kind = value.get("kind")
    if kind not in LIBRARIES:
        raise ApiError(422, f"Chart {name!r} has kind {kind!r}; the dashboard draws {', '.join(LIBRARIES)}.",
                       code="unknown_chart", field="name")
    spec = _script_json({"kind": kind, "figure": _finite(value.get("figure"))})
    scripts = "".join(f'<script src="/vendor/{file}"></script>' for file in LIBRARIES[kind])
    return _page(f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(name)}</title>"
                 f"<style>{PAGE_STYLE}</style></head><body><div id=chart></div>"
                 f'<script type="application/json" id="figure">{spec}</script>{scripts}'
                 f'<script src="/vendor/chart-boot.js"></script></body></html>', CHART_CSP)


class TableColumn(BaseModel):
    name: str
    type: str


class TablePage(BaseModel):
    columns: list[TableColumn]
    rows: list[list[Any]]
    offset: int
    total: int
    truncated: bool = Field(False, description="The table has more than 1000 columns: the first 1000 are sent.")


TABLE_FORMATS = {".parquet": "parquet", ".csv": "csv"}
MAX_TABLE_BYTES = 256 << 20  # a table is read whole to page it or describe it: larger ones are downloaded
MAX_TABLE_COLUMNS = 1000


@router.get("/runs/{uuid}/table", response_model=TablePage, openapi_extra=scope("read"))
def table_page(uuid: str, data: Data, who: Who,
               path: str = Query(min_length=1, max_length=4096, description="The table's path in the run folder."),
               offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=1000)) -> TablePage:
    """Rows ``[offset, offset + limit)`` of a logged CSV or Parquet table (``log_dataframe``)."""
    target = data.run_file(who, uuid, path)
    kind = TABLE_FORMATS.get(target.suffix.lower())
    if kind is None:
        raise ApiError(422, f"{path!r} is not a table: the dashboard pages .csv and .parquet files.",
                       code="not_a_table", field="path")
    table = _read_table(target, kind, "path")
    truncated = table.num_columns > MAX_TABLE_COLUMNS
    table = table.select(range(min(table.num_columns, MAX_TABLE_COLUMNS)))
    rows = table.slice(offset, limit).to_pylist()
    names = table.column_names
    return TablePage(columns=[TableColumn(name=f.name, type=str(f.type)) for f in table.schema],
                     rows=[[_cell(row[n]) for n in names] for row in rows], offset=offset, total=table.num_rows,
                     truncated=truncated)


def _read_table(path: Path, kind: str, field: str) -> Any:
    from labbook._optional import need

    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise ApiError(413, f"This table is {size} bytes; the server pages and describes tables of at most "
                            f"{MAX_TABLE_BYTES} bytes.", code="table_too_large", field=field,
                       hint="Download it (GET /api/v1/runs/{uuid}/files/... or /api/v1/artifacts/download).")

    if kind == "parquet":
        return need("pyarrow.parquet", "Reading a Parquet table").read_table(path)
    return need("pyarrow.csv", "Reading a CSV table").read_csv(path)


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class ColumnStats(BaseModel):
    name: str
    type: str
    count: int
    nulls: int
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    distinct: int | None = None
    edges: list[float] | None = None
    counts: list[int] | None = None


class TableStats(BaseModel):
    rows: int
    columns: list[ColumnStats]
    truncated: bool = Field(False, description="The table has more than 1000 columns: the first 1000 are described.")


STATS_BINS = 20


@router.get("/artifacts/stats", response_model=TableStats, openapi_extra=scope("read"))
def artifact_stats(data: Data, who: Who, uri: str = Query(min_length=1, max_length=2048)) -> TableStats:
    """Statistics of a table version (CSV or Parquet): per column its count, nulls, and min, max,
    mean, std and a 20-bin histogram for numbers, or the number of distinct values otherwise."""
    import numpy as np

    version, path = data.artifact_file(who, uri)
    kind = TABLE_FORMATS.get(f".{(version.format or '').lower()}")
    if kind is None:
        raise ApiError(422, f"{uri!r} is {version.format or 'not a table'}: statistics are computed for "
                            "CSV and Parquet tables.", code="not_a_table", field="uri")
    table = _read_table(path, kind, "uri")
    truncated = table.num_columns > MAX_TABLE_COLUMNS
    table = table.select(range(min(table.num_columns, MAX_TABLE_COLUMNS)))
    columns = []
    for field, column in zip(table.schema, table.columns):
        stats = ColumnStats(name=field.name, type=str(field.type), count=len(column), nulls=column.null_count)
        kind_of = str(field.type)
        if kind_of.startswith(("int", "uint", "float", "double", "bool")):
            values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
            values = values[np.isfinite(values)]
            if values.size:
                counts, edges = np.histogram(values, bins=STATS_BINS)
                stats = stats.model_copy(update=dict(
                    min=float(values.min()), max=float(values.max()), mean=float(values.mean()),
                    std=float(values.std()), edges=edges.tolist(), counts=counts.tolist()))
        else:
            import pyarrow.compute as pc

            stats = stats.model_copy(update=dict(distinct=int(pc.count_distinct(column).as_py())))
        columns.append(stats)
    return TableStats(rows=table.num_rows, columns=columns, truncated=truncated)
