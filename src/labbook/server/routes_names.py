"""Routes the dashboard leans on: the names a project uses (for completion and the column
chooser), how many runs a filter matches, and group bands (runs grouped by a param: the
group's mean with its min/max band, computed here over one x grid).

Names come from the catalog in one grouped query over the project's newest ``NAME_SAMPLE``
runs (an index range, so it costs the same at 100 or 100,000 runs), most used first,
searchable and capped: a project with thousands of param or metric names answers with the few
that match. A name that only runs older than those use is not listed (it still filters and sorts).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from labbook.errors import LabbookError, NotFoundError
from labbook.server import models, views
from labbook.server.auth import scope
from labbook.server.errors import library_error
from labbook.server.routes_runs import Data, Who

router = APIRouter(tags=["runs"])
READ = scope("read")
NAME_LIMIT = 1000
NAME_SAMPLE = 5000  # names are read from this many of the newest runs
NameKind = Literal["params", "outputs", "metrics", "tags"]


class NameCount(BaseModel):
    name: str
    runs: int = Field(description="How many runs of the project have it.")


class Names(BaseModel):
    kind: str
    names: list[NameCount] = Field(description="Most used first, then by name.")
    truncated: bool = Field(description="More names match than were returned (narrow with q=).")
    sampled_runs: int = Field(description=f"The newest runs the names were read from (at most {NAME_SAMPLE}).")


class RunCount(BaseModel):
    count: int


class GroupQuery(BaseModel):
    runs: list[str] = Field(min_length=1, max_length=1000)
    metric: str = Field(min_length=1, max_length=1024)
    group_by: str = Field(min_length=1, max_length=512, description="A param (input) name, e.g. lr or optimizer.name.")
    x: models.MetricXAxis = "step"
    points: int = Field(500, ge=2, le=4000, description="Buckets of the shared x grid.")
    x_min: float | None = None
    x_max: float | None = None


class Group(BaseModel):
    value: Any = Field(description="The param's value shared by the group's runs (null: runs without it).")
    runs: list[str]
    x: list[float] = Field(description="Each bucket's x (its first x when the grid is the raw steps).")
    mean: list[float | None] = Field(description="Mean over the group's runs of each run's bucket mean.")
    min: list[float | None] = Field(description="Smallest point of any run of the group in the bucket.")
    max: list[float | None] = Field(description="Largest point of any run of the group in the bucket.")
    runs_in_bucket: list[int]
    non_finite: int = Field(description="NaN/inf points of the group's runs in range (left out of mean/min/max).")


class Groups(BaseModel):
    metric: str
    group_by: str
    x_axis: str
    raw: bool = Field(description="The grid is every distinct x (few points): nothing was bucketed.")
    groups: list[Group]
    missing: list[str] = Field(description="Runs that have no such metric (or, for x=metric:<name>, no <name>).")


def _catalog(data: Any) -> Any:
    return data.workspace.catalog


@router.get("/names", response_model=Names, openapi_extra=READ)
def names(data: Data, who: Who,
          kind: NameKind = Query(description="params (inputs), outputs, metrics or tags."),
          project: str | None = Query(None, max_length=255, description="Only this project's runs."),
          q: str = Query("", max_length=512, description="Only names containing this text (any case)."),
          limit: int = Query(200, ge=1, le=NAME_LIMIT)) -> Names:
    """The param, output, metric or tag names the project's newest runs use (at most 5,000 runs),
    with how many of those runs use each."""
    project = data._project_scope(who, project)
    counts, sampled = _catalog(data).name_counts(kind, project, q, limit, NAME_SAMPLE)
    found = [NameCount(name=name, runs=runs) for name, runs in counts]
    return Names(kind=kind, names=found[:limit], truncated=len(found) > limit, sampled_runs=sampled)


@router.get("/runs/count", response_model=RunCount, openapi_extra=READ)
def count_runs(data: Data, who: Who,
               project: str | None = Query(None, max_length=255),
               filter: str | None = Query(None, max_length=10_000)) -> RunCount:
    """How many runs match the filter (the same language as GET /runs)."""
    project = data._project_scope(who, project)
    from labbook.store.liveness import crashed_before

    try:
        count = _catalog(data).count(project, filter, crashed_before=crashed_before(data.settings))
    except LabbookError as error:
        raise library_error(error, "filter") from None
    return RunCount(count=count)


@router.get("/runs/window", response_model=models.RunPage, openapi_extra=READ)
def run_window(data: Data, who: Who,
               project: str | None = Query(None, max_length=255),
               filter: str | None = Query(None, max_length=10_000),
               order_by: list[str] = Query([], max_length=8),
               columns: list[str] = Query([], max_length=200),
               only_columns: bool = Query(False, description="As in GET /runs."),
               offset: int = Query(0, ge=0, le=10_000_000, description="Rows to skip: the window's first row."),
               limit: int = Query(100, ge=1, le=models.MAX_LIMIT)) -> models.RunPage:
    """The runs at positions ``[offset, offset + limit)`` of the ordering: what a table shows
    when its user drags the scrollbar to row 50,000 (GET /runs pages onward from a cursor)."""
    project = data._project_scope(who, project)
    columns = [c for item in columns for c in item.split(",") if c.strip()]
    try:
        rows = data.workspace.search_runs(project, filter=filter, order_by=order_by or None, limit=limit, offset=offset)
    except LabbookError as error:
        raise library_error(error, "filter" if filter else "order_by") from None
    return models.RunPage(runs=[views.run_row(r, columns, only_columns) for r in rows], next_cursor=None)


@router.post("/series/groups", response_model=Groups, openapi_extra=READ, tags=["series"])
def group_bands(query: GroupQuery, data: Data, who: Who) -> Groups:
    """Runs grouped by a param's value: per group, over one x grid shared by every run, the mean
    of the runs' bucket means and the min/max of every point (so a spike of one run shows in its
    group's band). When all runs together hold at most ``points`` distinct x, the grid is those x.
    With ``x=metric:<name>``, each point sits at its run's <name> at the same step (as in
    /series/query); steps without it are left out, and runs without it are listed as missing."""
    series: list[tuple[str, Any, np.ndarray, np.ndarray]] = []
    missing = []
    x_metric = query.x.removeprefix("metric:") if query.x.startswith("metric:") else None
    for uuid in dict.fromkeys(query.runs):
        run = data.get_run(who, uuid)
        try:
            points = data.metric_series(who, run.uuid, query.metric)
            x_series = data.metric_series(who, run.uuid, x_metric) if x_metric is not None else None
        except NotFoundError:
            missing.append(run.uuid)
            continue
        if x_series is not None:
            x, y = views.align_by_step(points.steps, points.values, x_series.steps, x_series.values)
        else:
            x = np.asarray(views.x_values(points, query.x), dtype=np.float64)
            y = np.asarray(points.values, dtype=np.float64)
        keep = np.ones(len(x), dtype=bool)
        if query.x_min is not None:
            keep &= x >= query.x_min
        if query.x_max is not None:
            keep &= x <= query.x_max
        value = views.param_value(run.inputs, query.group_by)
        series.append((run.uuid, value if isinstance(value, (str, int, float, bool)) or value is None else str(value),
                       x[keep], y[keep]))
    all_x = np.unique(np.concatenate([s[2] for s in series])) if series else np.array([])
    raw = len(all_x) <= query.points
    if raw:
        grid, edges = all_x, all_x[1:]
    else:
        edges = np.linspace(all_x[0], all_x[-1], query.points + 1)[1:-1]
        grid = np.concatenate(([all_x[0]], edges))
    n = len(grid)
    by_value: dict[str, list[tuple[str, Any, np.ndarray, np.ndarray]]] = {}
    for item in series:
        by_value.setdefault(repr(item[1]), []).append(item)
    groups = []
    for members in by_value.values():
        sums = np.zeros(n)
        runs_in = np.zeros(n, dtype=np.int64)
        low = np.full(n, np.inf)
        high = np.full(n, -np.inf)
        non_finite = 0
        for _, _, x, y in members:
            finite = np.isfinite(y)
            non_finite += int((~finite).sum())
            bucket = np.searchsorted(edges, x[finite], side="right")
            values = y[finite]
            count = np.bincount(bucket, minlength=n)
            total = np.bincount(bucket, weights=values, minlength=n)
            has = count > 0
            sums[has] += total[has] / count[has]
            runs_in += has
            np.minimum.at(low, bucket, values)
            np.maximum.at(high, bucket, values)
        has = runs_in > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(has, sums / np.maximum(runs_in, 1), np.nan)
        groups.append(Group(value=members[0][1], runs=[m[0] for m in members], x=grid.tolist(),
                            mean=_nullable(mean), min=_nullable(np.where(has, low, np.nan)),
                            max=_nullable(np.where(has, high, np.nan)), runs_in_bucket=runs_in.tolist(),
                            non_finite=non_finite))
    groups.sort(key=lambda g: (g.value is None, str(type(g.value)), g.value if g.value is not None else 0))
    return Groups(metric=query.metric, group_by=query.group_by, x_axis=query.x, raw=bool(raw), groups=groups,
                  missing=missing)


def _nullable(values: np.ndarray) -> list[float | None]:
    finite = np.isfinite(values)
    return [v if ok else None for v, ok in zip(values.tolist(), finite.tolist())]
