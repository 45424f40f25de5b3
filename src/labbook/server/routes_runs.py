"""Read routes for projects and runs: lists, one run, series, events, files, logs, resources."""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import time
from typing import Annotated, Any, AsyncIterator

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from labbook.errors import LabbookError, NotFoundError
from labbook.server import cursor, models, views
from labbook.server.auth import access_of, scope
from labbook.server.data import Access, ServerData
from labbook.server.errors import ApiError, error_body, library_error

router = APIRouter()
log = logging.getLogger("labbook.server")
READ = scope("read")
Limit = Annotated[int, Query(ge=1, le=models.MAX_LIMIT, description="Page size (at most 1000).")]
Points = Annotated[int, Query(ge=2, le=10000, description="The pixel budget: at most this many buckets.")]


def data_of(request: Request) -> ServerData:
    return request.app.state.data


Data = Annotated[ServerData, Depends(data_of)]
Who = Annotated[Access, Depends(access_of)]


@router.get("/health", response_model=models.Health, openapi_extra=scope("public"), tags=["server"])
def health() -> models.Health:
    """Whether the server is up (no data; open to everyone)."""
    from labbook import __version__

    return models.Health(status="ok", version=__version__)


@router.get("/projects", response_model=models.ProjectList, openapi_extra=READ, tags=["runs"])
def list_projects(data: Data, who: Who, limit: Limit = models.MAX_LIMIT,
                  cursor_: str | None = Query(None, alias="cursor", max_length=4096,
                                              description="next_cursor of the last page.")) -> models.ProjectList:
    """Projects by name, one keyset page at a time: each one's number of runs and last activity."""
    projects = sorted(data.list_projects(who), key=lambda p: p.name)
    page, next_cursor = cursor.page_of(projects, lambda p: (p.name,), limit, cursor_, cursor.fingerprint("projects"))
    return models.ProjectList(projects=[models.Project(name=p.name, run_count=p.run_count, created_at=p.created_at,
                                                       last_activity=p.last_activity) for p in page],
                              next_cursor=next_cursor)


@router.get("/runs", response_model=models.RunPage, openapi_extra=READ, tags=["runs"])
def search_runs(
    data: Data, who: Who,
    project: str | None = Query(None, max_length=255, description="Only this project's runs."),
    filter: str | None = Query(None, max_length=10_000,
                                  description="e.g. params.lr < 0.01 and (metrics.loss.min < 0.3 or 'best' in tags)"),
    order_by: list[str] = Query([], max_length=8, description="A field; '-' first for descending. Repeatable."),
    columns: list[str] = Query([], max_length=200, description="Values to return per run, e.g. metrics.loss.min."),
    only_columns: bool = Query(False, description="Rows carry only the params, outputs and metrics that columns "
                                                  "name (in inputs, outputs, metrics), not every one of the run."),
    limit: Limit = 100,
    cursor_: str | None = Query(None, alias="cursor", max_length=4096, description="next_cursor of the last page."),
) -> Response:
    """Runs matching the filter, in order, one keyset page at a time."""
    columns = [c for item in columns for c in item.split(",") if c.strip()]
    query = cursor.fingerprint(project, filter, *order_by)
    after = cursor.decode(cursor_, query)
    try:
        rows = data.search_runs(who, project, filter, order_by, limit + 1, after)
    except NotFoundError:
        raise
    except LabbookError as error:
        field = "cursor" if "cursor" in str(error) else "filter" if filter else "order_by"
        raise library_error(error, field) from None
    page = rows[:limit]
    next_cursor = cursor.encode(page[-1].sort_key, query) if len(rows) > limit and page else None
    # the page's JSON made here (response_model still documents it): FastAPI would build, validate,
    # validate again and dump a model per run
    return Response(views.run_page_json(page, columns, only_columns, next_cursor), media_type="application/json")


@router.get("/runs/{uuid}", response_model=models.RunDetail, openapi_extra=READ, tags=["runs"])
def get_run(uuid: str, data: Data, who: Who) -> models.RunDetail:
    """One run: inputs, outputs, tags, code, environment, status history, summaries, series names."""
    return views.run_detail(data.get_run(who, uuid))


def _series(data: ServerData, who: Access, uuid: str, name: str, resource: bool) -> object:
    return data.resource_series(who, uuid, name) if resource else data.metric_series(who, uuid, name)


@router.get("/runs/{uuid}/metrics/series", response_model=models.Series, openapi_extra=READ, tags=["series"])
def metric_series(
    uuid: str, data: Data, who: Who,
    name: str = Query(min_length=1, max_length=1024, description="The metric's name."),
    x: models.MetricXAxis = "step", points: Points = 1000,
    x_min: float | None = None, x_max: float | None = None,
) -> models.Series:
    """A metric, downsampled to ``points`` min/max buckets over ``[x_min, x_max]`` (raw when few);
    ``x=metric:<name>`` puts each point at the run's <name> at the same step."""
    series = data.metric_series(who, uuid, name)
    return views.series_model(uuid, series, x, points, x_min, x_max, _x_series(data, who, uuid, x))


def _x_series(data: ServerData, who: Access, uuid: str, x: str, record: object = None) -> object:
    return data.metric_series(who, uuid, x.removeprefix("metric:"), record) if x.startswith("metric:") else None


@router.post("/series/query", response_model=models.SeriesList, openapi_extra=READ, tags=["series"])
def query_series(query: models.SeriesQuery, data: Data, who: Who) -> models.SeriesList:
    """Several runs' metrics in one request (up to 200 runs x 20 metrics), each downsampled."""
    out, missing = [], []
    records = {} if data.store is not None else data.get_runs(who, query.runs)  # a store's series: read their own way
    for run in query.runs:
        record = records.get(run)  # each run read once, for all its metrics
        if isinstance(record, NotFoundError):
            missing.extend({"run": run, "name": name} for name in query.metrics)
            continue
        for name in query.metrics:
            try:
                series = data.metric_series(who, run, name, record)
            except NotFoundError:
                missing.append({"run": run, "name": name})
                continue
            try:
                x_series = _x_series(data, who, run, query.x, record)
            except NotFoundError:
                missing.append({"run": run, "name": query.x.removeprefix("metric:")})
                continue
            out.append(views.series_model(run, series, query.x, query.points, query.x_min, query.x_max, x_series))
    return models.SeriesList(series=out, missing=missing)


@router.get("/runs/{uuid}/resources", response_model=models.NameList, openapi_extra=READ, tags=["series"])
def resource_names(uuid: str, data: Data, who: Who) -> models.NameList:
    """The names of the run's sampled resource series (cpu.percent, gpu.0.power...)."""
    return models.NameList(names=data.get_run(who, uuid).resource_names()[: models.MAX_LIMIT])


@router.get("/runs/{uuid}/resources/series", response_model=models.Series, openapi_extra=READ, tags=["series"])
def resource_series(
    uuid: str, data: Data, who: Who,
    name: str = Query(min_length=1, max_length=1024), x: models.XAxis = "wall", points: Points = 1000,
    x_min: float | None = None, x_max: float | None = None,
) -> models.Series:
    """A resource series, downsampled like a metric (x is wall time by default)."""
    return views.series_model(uuid, data.resource_series(who, uuid, name), x, points, x_min, x_max)


@router.get("/runs/{uuid}/events", response_model=models.EventList, openapi_extra=READ, tags=["events"])
def events(
    uuid: str, data: Data, who: Who,
    kind: str = Query(min_length=1, max_length=64, description="text, html, image, audio, histogram, ..."),
    name: str = Query(min_length=1, max_length=1024),
    step: int | None = Query(None, description="Only the event at this step, or the nearest before it."),
    mode: str = Query("nearest_prior", pattern="^(nearest_prior|exact)$"),
    limit: Limit = 100,
    cursor_: str | None = Query(None, alias="cursor", max_length=4096),
) -> models.EventList:
    """Events of one (kind, name) in time order; ``step=`` picks one (nearest prior by default)."""
    found = data.events(who, uuid, kind, name)
    if step is not None:
        exact = [e for e in found if e.step == step]
        prior = [e for e in found if e.step is not None and e.step <= step]
        chosen = exact[-1:] or ([] if mode == "exact" else [max(prior, key=lambda e: (e.step, e.timestamp))] if prior else [])
        return models.EventList(run=uuid, kind=kind, name=name, events=[views.event_model(e) for e in chosen],
                                requested_step=step, exact=bool(exact))
    query = cursor.fingerprint(uuid, kind, name)
    after = cursor.decode(cursor_, query)
    if after:
        if len(after) != 2 or not isinstance(after[0], str) or not isinstance(after[1], int):
            raise ApiError(400, "This cursor was not made by /events.", code="bad_cursor", field="cursor")
        found = [e for e in found if _event_key(e) > tuple(after)]
    page = found[:limit]
    next_cursor = cursor.encode(list(_event_key(page[-1])), query) if len(found) > limit else None
    return models.EventList(run=uuid, kind=kind, name=name, events=[views.event_model(e) for e in page],
                            next_cursor=next_cursor)


def _event_key(event: object) -> tuple:
    """Events come sorted by (time, step): the keyset of an events page."""
    return (event.timestamp.isoformat(), -1 if event.step is None else event.step)


StepLimit = Annotated[int, Query(ge=1, le=models.MAX_STEPS, description="Page size (at most 100,000 steps).")]


@router.get("/runs/{uuid}/events/steps", response_model=models.StepList, openapi_extra=READ, tags=["events"])
def event_steps(
    uuid: str, data: Data, who: Who,
    kind: str = Query(min_length=1, max_length=64), name: str = Query(min_length=1, max_length=1024),
    limit: StepLimit = models.MAX_STEPS,
    cursor_: str | None = Query(None, alias="cursor", max_length=4096, description="next_cursor of the last page."),
) -> models.StepList:
    """Every step that holds an event of (kind, name), ascending: the marks of a step slider
    (one keyset page of at most ``limit``)."""
    steps = sorted({e.step for e in data.events(who, uuid, kind, name) if e.step is not None})
    page, next_cursor = cursor.page_of(steps, lambda s: (s,), limit, cursor_, cursor.fingerprint("steps", uuid, kind, name))
    return models.StepList(run=uuid, kind=kind, name=name, steps=page, next_cursor=next_cursor)


SANDBOX = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff",
           "Cache-Control": "private, max-age=0"}


@router.get("/runs/{uuid}/files/{path:path}", openapi_extra=READ, tags=["files"],
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."}})
def run_file(uuid: str, path: str, data: Data, who: Who,
             download: bool = Query(False, description="Send as an attachment.")) -> FileResponse:
    """A file of the run folder (an asset, an output), streamed with its type and Range support.
    Served sandboxed: logged HTML or SVG can never run in the API's origin."""
    target = data.run_file(who, uuid, path)
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(target, media_type=media_type, headers=SANDBOX, filename=target.name,
                        content_disposition_type="attachment" if download else "inline")


FOLLOW_POLL = 0.5  # seconds between two reads of a followed run's log files


def _log_line(line: Any) -> models.LogLineOut:
    return models.LogLineOut(timestamp=line.timestamp, stream=line.stream, message=line.message,
                             level=line.level, logger=line.logger, rank=line.rank)


@router.get("/runs/{uuid}/logs", response_model=models.LogList, openapi_extra=READ, tags=["runs"],
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": "With follow=true: one JSON object per line, as written."}})
def logs(uuid: str, data: Data, who: Who, tail: Limit = 1000,
         follow: bool = Query(False, description="Keep the answer open and stream new lines (NDJSON) "
                                                 "until the run ends or `timeout` passes."),
         timeout: float = Query(300, gt=0, le=3600, description="With follow: the longest the stream stays "
                                                                "open, in seconds (at most 3600).")) -> Any:
    """The last ``tail`` captured lines of stdout, stderr and logging, in time order; with
    ``follow=true``, those lines and then every new one, streamed as JSON lines."""
    if follow:
        run = data.get_run(who, uuid)  # an unknown run is a 404 before the stream starts
        return StreamingResponse(_follow(data, who, run, tail, timeout), media_type="application/x-ndjson",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    lines = data.logs(who, uuid, tail)
    return models.LogList(run=uuid, lines=[_log_line(line) for line in lines[-tail:]])


async def _follow(data: ServerData, who: Access, run: Any, tail: int, timeout: float) -> AsyncIterator[bytes]:
    """Lines of a followed run as NDJSON, until one poll after the run ends or the timeout. The
    reads run in the thread pool and the waits are async, so a client that goes away ends the
    stream at once. A failure after the answer has started cannot change its status: it is sent
    as the stream's last line, in the one error shape."""
    from labbook.store.logs import LogFollower
    from labbook.store.runfile import FINAL_STATUSES

    deadline = time.monotonic() + timeout

    def ended() -> bool:  # reading the run again also refreshes a store-backed server's copy
        return time.monotonic() >= deadline or data.get_run(who, run.uuid).status in FINAL_STATUSES

    follower = LogFollower(run.path)
    try:
        batch = await run_in_threadpool(follower.start, tail)
        finished_before = False
        while True:
            for line in batch:
                yield orjson.dumps(_log_line(line).model_dump(mode="json")) + b"\n"
            if finished_before:
                return
            await asyncio.sleep(FOLLOW_POLL)
            finished_before = await run_in_threadpool(ended)
            batch = await run_in_threadpool(follower.poll)
    except Exception as error:  # noqa: BLE001 - the status line is gone: the error goes in the stream
        if isinstance(error, LabbookError):
            api = library_error(error)
        else:
            log.exception("the log stream of run %s failed", run.uuid)
            api = ApiError(500, f"The server failed while following this run's logs ({type(error).__name__}).",
                           hint="This is a bug in labbook; the server's log has the details.")
        yield orjson.dumps(error_body(api.status, api.message, api.code, api.field, api.hint)) + b"\n"
