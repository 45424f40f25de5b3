"""Library objects -> response models (pure functions, no I/O but what the objects do)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from labbook.server import models
from labbook.server.downsample import downsample, downsample_tiled
from labbook.server.errors import ApiError

_METRIC_ATTRS = ("last", "min", "max", "count", "last_step")
_RUN_COLUMNS = ("uuid", "project", "name", "description", "status", "created_at", "started_at",
                "finished_at", "duration", "user", "host", "git_commit")


_SUMMARY_FIELDS = frozenset(models.MetricSummary.model_fields)  # (read once: pydantic's class property is slow)


def _summaries(summaries: dict[str, Any]) -> dict[str, models.MetricSummary]:
    return {name: models.MetricSummary(**{k: v for k, v in (s or {}).items() if k in _SUMMARY_FIELDS})
            for name, s in (summaries or {}).items()}


def split_column(text: str) -> list[str]:
    """``metrics.`val acc`.max`` -> ["metrics", "val acc", "max"] (backticks quote a name)."""
    return [a or b for a, b in re.findall(r"`([^`]*)`|([^.`]+)", text)]


def column_value(row: Any, column: str) -> Any:
    parts = split_column(column)
    head = parts[0].lower() if parts else ""
    if len(parts) == 1 and head in _RUN_COLUMNS:
        return getattr(row, head)
    if len(parts) == 1 and head == "tags":
        return list(row.tags)
    if head in ("params", "inputs") and len(parts) > 1:
        return param_value(row.inputs, ".".join(parts[1:]))
    if head == "outputs" and len(parts) > 1:
        return param_value(row.outputs, ".".join(parts[1:]))
    if head == "metrics" and len(parts) > 1:
        attr = "last"
        rest = parts[1:]
        if len(rest) > 1 and rest[-1] in _METRIC_ATTRS:
            attr, rest = rest[-1], rest[:-1]
        return (row.summaries.get(".".join(rest)) or {}).get(attr)
    raise _unknown_column(column)


def param_value(params: dict[str, Any], name: str) -> Any:
    """``params[name]``, or the nested value a dotted name points at (``optimizer.name``), as the
    filter language reads a dotted param name."""
    if name in params:
        return params[name]
    value: Any = params
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _unknown_column(column: str) -> ApiError:
    return ApiError(422, f"Unknown column {column!r}.", code="bad_column", field="columns",
                    hint="Use params.<key>, outputs.<key>, metrics.<name>[.last|.min|.max|.count|.last_step], "
                         f"tags, or one of: {', '.join(_RUN_COLUMNS)}.")


def run_row(row: Any, columns: list[str], only_columns: bool = False) -> models.RunRow:
    """One row of /runs. With ``only_columns`` its inputs, outputs and metrics hold just the keys the
    columns name (a table of 20 visible columns need not carry every param and metric of every run)."""
    return models.RunRow(**run_fields(row, columns, only_columns))


def run_fields(row: Any, columns: list[str], only_columns: bool = False) -> dict[str, Any]:
    """``run_row``'s fields as plain values (each summary a dict with every ``MetricSummary``
    field), in the model's order: what ``run_page_json`` encodes without building the models."""
    inputs, outputs, summaries = row.inputs, row.outputs, row.summaries
    if only_columns:
        keys = _column_keys(columns)
        inputs = {k: inputs[k] for k in keys["params"] if k in inputs}
        outputs = {k: outputs[k] for k in keys["outputs"] if k in outputs}
        summaries = {k: summaries[k] for k in keys["metrics"] if k in summaries}
    return {
        "uuid": row.uuid, "project": row.project, "name": row.name, "description": row.description,
        "status": row.status, "tags": list(row.tags), "created_at": row.created_at, "started_at": row.started_at,
        "finished_at": row.finished_at, "duration": row.duration, "inputs": inputs, "outputs": outputs,
        "metrics": {name: _summary_fields(s) for name, s in (summaries or {}).items()},
        "user": row.user, "host": row.host, "git_commit": row.git_commit,
        "columns": {} if only_columns else {c: _jsonable(column_value(row, c)) for c in columns},
    }


def _summary_fields(summary: dict[str, Any] | None) -> dict[str, Any]:
    """A metric summary as ``MetricSummary`` holds it: every field, numbers of its types."""
    summary = summary or {}
    fields = {}
    for key in ("last", "min", "max"):
        value = summary.get(key)
        fields[key] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    for key, default in (("count", 0), ("last_step", None)):
        value = summary.get(key, default)
        fields[key] = int(value) if isinstance(value, float) and value.is_integer() else value
    fields["last_timestamp"] = summary.get("last_timestamp")
    return fields


def run_page_json(rows: list[Any], columns: list[str], only_columns: bool, next_cursor: str | None) -> bytes:
    """The JSON of ``RunPage(runs=[run_row(r, ...) for r in rows], next_cursor=...)``, encoded by
    orjson from the rows' values: no model is built, validated and dumped for each run (a page of
    100 runs: a few milliseconds less). Falls back to the models for values orjson cannot encode
    as pydantic would (an integer beyond 64 bits)."""
    import orjson
    from pydantic_core import to_jsonable_python

    runs = [run_fields(r, columns, only_columns) for r in rows]
    try:
        return orjson.dumps({"runs": runs, "next_cursor": next_cursor}, default=to_jsonable_python,
                            option=orjson.OPT_UTC_Z)
    except orjson.JSONEncodeError:
        return models.RunPage(runs=[models.RunRow(**r) for r in runs], next_cursor=next_cursor).model_dump_json().encode()


def _column_keys(columns: list[str]) -> dict[str, set[str]]:
    """The param, output and metric keys that ``columns`` name (run fields are always sent)."""
    keys: dict[str, set[str]] = {"params": set(), "outputs": set(), "metrics": set()}
    for column in columns:
        parts = split_column(column)
        head = parts[0].lower() if parts else ""
        rest = parts[1:]
        if head == "metrics" and len(rest) > 1 and rest[-1] in _METRIC_ATTRS:
            rest = rest[:-1]
        if head == "inputs":
            head = "params"
        if head in keys and rest:
            keys[head].add(".".join(rest))
            if head != "metrics" and len(rest) > 1:
                keys[head].add(rest[0])  # a nested param's leaf: the row carries the param it is in
        elif not (len(parts) == 1 and (head in _RUN_COLUMNS or head == "tags")):
            raise _unknown_column(column)
    return keys


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def run_detail(run: Any) -> models.RunDetail:
    kinds = {kind: run.event_names(kind) for kind in run.event_kinds()}
    return models.RunDetail(
        uuid=run.uuid, project=run.project, name=run.name, description=run.description, status=run.status,
        tags=run.tags, inputs=run.inputs, outputs=run.outputs, meta=run.meta, code=run.code, env=run.env,
        readme=run.readme, created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        heartbeat_at=run.heartbeat_at, duration=run.duration,
        status_conditions=[models.StatusCondition(**c) for c in run.status_conditions if isinstance(c, dict)],
        metrics=_summaries(run.summaries), events=kinds, resources=run.resource_names(),
    )


def x_values(series: Any, axis: str) -> np.ndarray:
    if axis == "step":
        return np.asarray(series.steps)  # integers: downsample compares them as such (no float copy)
    wall = series.timestamps.astype("datetime64[us]").astype(np.int64) / 1e6
    if axis == "relative":
        return wall - (wall.min() if len(wall) else 0.0)
    return wall


def align_by_step(steps: Any, values: Any, x_steps: Any, x_metric: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(x, y)``: each point of a series (``steps``, ``values``) paired with another metric's
    value at the same step (its last one when logged twice at a step). Steps the other metric lacks,
    and steps where it is NaN or infinite, are left out (no x to place them at)."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(np.asarray(x_steps), kind="stable")
    x_steps = np.asarray(x_steps)[order]
    x_metric = np.asarray(x_metric, dtype=np.float64)[order]
    at = np.searchsorted(x_steps, steps, side="right") - 1
    found = at >= 0
    found[found] = x_steps[at[found]] == steps[found]
    x = x_metric[at[found]]
    finite = np.isfinite(x)
    return x[finite], values[found][finite]


def series_model(run: str, series: Any, axis: str, points: int, x_min: float | None,
                 x_max: float | None, x_series: Any = None) -> models.Series:
    """``series`` downsampled over ``axis``; for ``metric:<name>``, ``x_series`` is that metric."""
    tiled = getattr(series, "tiled", None)  # a run folder's series with current tiles: points unread
    result = downsample_tiled(tiled, points, x_min, x_max) if tiled is not None and x_series is None \
        and axis == "step" else None
    if result is None:
        if x_series is not None:
            x, y = align_by_step(series.steps, series.values, x_series.steps, x_series.values)
            tiles = None  # a compacted series' tiles are over its own steps, not another metric's values
        else:
            x, y = x_values(series, axis), series.values
            tiles = getattr(series, "tiles", None)  # a compacted series' min/max tiles
        # a series is in step order (labbook.store.events.merge_metric_parts; compacted: as written)
        result = downsample(x, y, points, x_min, x_max, tiles=tiles, x_sorted=x_series is None and axis == "step")
    return models.Series.model_construct(
        run=run, name=series.name, x_axis=axis, raw=result.raw, total=result.total, x=result.x, y=result.y,
        x_last=result.x_last, first=result.first, min=result.min, max=result.max, last=result.last,
        count=result.count, source=_source(series))


def warm_up() -> None:
    """Serve a small series once, with and without tiles: loads and runs, at server start, the
    code a first chart would (see ``ServerData.warm_up``)."""
    from labbook.server.downsample import Tiles
    from labbook.store.events import MetricSeries, merge_metric_parts  # noqa: F401 - a run folder's reader
    from labbook.store.format import metric_dtype

    records = np.zeros(5000, dtype=metric_dtype())
    records["step"] = np.arange(len(records))
    records["value"] = np.sin(records["step"])
    series = merge_metric_parts("warm-up", [records], [np.zeros(len(records), dtype=np.int32)])
    for tiles in (None, Tiles.of(series.values, 64)):
        series.tiles = tiles  # type: ignore[attr-defined]
        for axis in ("step", "wall"):
            model = series_model("0" * 32, series, axis, 100, None, None)
            models.Series.model_validate(model.model_dump()).model_dump_json()
    _warm_up_tiles(records)


def _warm_up_tiles(records: np.ndarray) -> None:
    """A run folder's series read twice in a scratch folder (its tiles written, then read and
    charted): the first chart of a series read before pays for its tiles only."""
    import tempfile
    from pathlib import Path

    from labbook.store import format as fmt
    from labbook.store.events import read_metric_tiled
    from labbook.store.layout import RunFolder

    with tempfile.TemporaryDirectory(prefix="labbook-warm-up-") as scratch:
        folder = RunFolder(Path(scratch) / ("0" * 32))
        path = folder.series_file("metric", "warm-up", "0-0-0")
        path.parent.mkdir(parents=True)
        path.write_bytes(fmt.header_bytes("metric", "warm-up", "0-0-0") + records.tobytes())
        for _ in range(2):
            series = read_metric_tiled(folder, "warm-up", Path(scratch) / "cache")
        for x_min, x_max in ((None, None), (10.5, 4000.0), (10.0, 20.0)):
            series_model("0" * 32, series, "step", 100, x_min, x_max)


def _source(series: Any) -> str:
    if not hasattr(series, "compacted"):
        return "run_folder"
    return "compacted" if series.compacted else "chunks"


def event_model(event: Any) -> models.EventOut:
    value = event.value
    path = value.get("path") if isinstance(value, dict) else None
    return models.EventOut(step=event.step, timestamp=event.timestamp, value=value,
                           file=path if isinstance(path, str) else None)


def artifact_model(version: Any, readable: bool) -> models.ArtifactOut:
    return models.ArtifactOut(
        uri=version.uri, project=version.project, key=version.key, kind=version.kind, version=version.version,
        uid=version.uid, hash=version.hash, size=version.size, is_dir=version.is_dir, format=version.format,
        tags=version.tags, labels=version.labels, summary=version.summary, meta=version.meta,
        producer=version.producer, sources=version.sources, links=version.links,
        description=version.description, created_at=version.created_at, stored_in_server=readable,
        location=None if readable else version.location,
    )


def lineage_model(graph: Any, max_nodes: int) -> models.LineageOut:
    nodes = list(graph.nodes.values())
    truncated = len(nodes) > max_nodes
    if truncated:
        keep = {graph.root} | {n.id for n in nodes[:max_nodes - 1]}
        nodes = [n for n in nodes if n.id in keep]
    ids = {n.id for n in nodes}
    return models.LineageOut(
        root=graph.root,
        nodes=[models.LineageNodeOut(id=n.id, type=n.type, label=n.label, data=n.data) for n in nodes],
        edges=[models.LineageEdgeOut(source=e.source, target=e.target, relation=e.relation)
               for e in graph.edges if e.source in ids and e.target in ids],
        truncated=truncated,
    )
