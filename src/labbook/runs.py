"""Reading runs back: ``get_run``, ``search_runs`` and the objects they return.

::

    import labbook

    run = labbook.get_run("3f2c...")
    loss = run.metric("loss")          # numpy arrays: loss.steps, loss.values, loss.timestamps
    best = labbook.search_runs("mnist", filter="params.lr < 0.01 and metrics.loss < 0.5",
                               order_by=["-metrics.accuracy"], limit=10)

``get_run`` reads the run folder itself (always current, even mid-run); ``search_runs`` asks the
catalog, which the writer keeps up to date every few seconds and at the end of a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labbook.config import Settings
from labbook.errors import NotFoundError
from labbook.store.layout import RunFolder
from labbook.store.record import read_run_record
from labbook.writer import format as fmt


@dataclass(frozen=True)
class Event:
    """One step-wise record: ``step``, ``timestamp`` (aware UTC datetime) and ``value``."""

    step: int | None
    timestamp: datetime
    value: Any
    writer: str = ""


class MetricSeries:
    """A metric's points as numpy arrays, in step order (then time), whichever writers logged
    them. ``skipped`` counts damaged records left out of a file's middle (0 when none)."""

    def __init__(self, name: str, steps, values, timestamps, ranks=None, skipped: int = 0) -> None:
        self.name = name
        self.steps = steps
        self.values = values
        self.timestamps = timestamps
        self.ranks = ranks
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self.values)

    def to_pandas(self):
        """A DataFrame with columns step, value, timestamp (and rank when several wrote)."""
        import pandas as pd

        frame = pd.DataFrame({"step": self.steps, "value": self.values,
                              "timestamp": pd.to_datetime(self.timestamps, utc=True)})
        if self.ranks is not None:
            frame["rank"] = self.ranks
        return frame

    def __repr__(self) -> str:
        return f"<MetricSeries {self.name!r} points={len(self)}>"


def _header_rank(path: Path) -> int:
    try:
        return int(fmt.read_header(path).get("rank", 0))
    except (ValueError, OSError):
        return 0


def read_metric(folder: RunFolder, name: str, rank: int | None = None,
                root: Path | None = None) -> MetricSeries:
    import numpy as np

    series_dir = folder.series_dir("metric", name, root)
    files = sorted(series_dir.glob("*.lbm")) if series_dir.is_dir() else []
    if not files:
        known = folder.series_names("metric", root)
        raise NotFoundError(
            f"Run {folder.path.name} has no metric {name!r}. Its metrics: "
            f"{', '.join(repr(n) for n in known[:20]) or 'none'}."
        )
    parts, ranks, skipped = [], [], 0
    for path in files:
        file_rank = _header_rank(path)
        if rank is not None and file_rank != rank:
            continue
        records, damaged = fmt.read_metric_records(path)
        skipped += damaged
        parts.append(records)
        ranks.append(np.full(len(records), file_rank, dtype=np.int32))
    if not parts:
        raise NotFoundError(f"Metric {name!r} has no points from rank {rank}.")
    if len(parts) == 1:
        records, rank_arr = parts[0], ranks[0]
    else:
        records = np.concatenate(parts)
        rank_arr = np.concatenate(ranks)
    steps = np.ascontiguousarray(records["step"])
    if not _in_step_order(steps, records):  # one rule, one writer or many: by step, then time
        order = np.lexsort((records["timestamp"], steps))  # stable: equal keys keep file order
        records, rank_arr = records[order], rank_arr[order]
        steps = np.ascontiguousarray(records["step"])
    several = len({int(r[0]) for r in ranks if len(r)}) > 1
    return MetricSeries(
        name,
        steps,
        np.ascontiguousarray(records["value"]),
        records["timestamp"].astype("datetime64[us]"),
        rank_arr if several else None,
        skipped,
    )


def _in_step_order(steps, records) -> bool:
    """Whether ``records`` (whose steps are ``steps``) are already sorted by step, then
    timestamp (the usual case: one writer logging steps forward), so the sort can be skipped."""
    import numpy as np

    if len(steps) < 2:
        return True
    if (steps[1:] > steps[:-1]).all():  # one pass in the usual case: steps strictly increasing
        return True
    step_diff = np.diff(steps)
    if (step_diff < 0).any():
        return False
    ties = step_diff == 0
    return not (np.diff(records["timestamp"])[ties] < 0).any()


class EventList(list):
    """Events as a list, with ``skipped``: damaged lines left out of the files (0 when none)."""

    skipped: int = 0


def read_events(folder: RunFolder, kind: str, name: str, root: Path | None = None) -> EventList:
    if kind == "metric":
        series = read_metric(folder, name, root=root)
        events = EventList(
            Event(int(step), datetime.fromtimestamp(ts.astype("int64") / 1e6, tz=timezone.utc), float(v))
            for step, ts, v in zip(series.steps, series.timestamps, series.values)
        )
        events.skipped = series.skipped
        return events
    series_dir = folder.series_dir(kind, name, root)
    files = sorted(series_dir.glob("*.jsonl")) if series_dir.is_dir() else []
    if not files:
        raise NotFoundError(
            f"Run {folder.path.name} has no {kind} events named {name!r}. Its {kind} events: "
            f"{', '.join(repr(n) for n in folder.series_names(kind, root)[:20]) or 'none'}."
        )
    events, skipped = EventList(), [0]
    for path in files:
        writer = path.stem
        for record in fmt.iter_json_records(path, skipped):
            try:
                moment = datetime.fromisoformat(record["timestamp"])
            except (TypeError, ValueError):  # damaged in place: counted like a broken line
                skipped[0] += 1
                continue
            events.append(Event(record.get("step"), moment, record["value"], writer))
    events.sort(key=lambda e: (e.timestamp, e.step if e.step is not None else -1))
    events.skipped = skipped[0]
    return events


def effective_status(record: dict[str, Any]) -> str:
    """The status to show: run.json's, unless liveness says the process is gone."""
    from labbook.capture.liveness import reported_status

    return reported_status(record)


class RunRecord:
    """A run as read back: metadata, summaries, and access to its series."""

    def __init__(self, record: dict[str, Any]) -> None:
        self._record = record
        self.uuid: str = record["uuid"]
        self.project: str = record["project"]
        self.owner: str | None = record.get("owner")
        self.name: str | None = record.get("name")
        self.description: str | None = record.get("description")
        self.inputs: dict[str, Any] = record.get("inputs") or {}
        self.outputs: dict[str, Any] = record.get("outputs") or {}
        self.meta: dict[str, Any] = record.get("meta") or {}
        self.tags: list[str] = list(record.get("tags") or [])
        self.code: dict[str, Any] = record.get("code") or {}
        self.env: dict[str, Any] = record.get("env") or {}
        self.readme: str | None = record.get("readme")
        self.created_at = _time(record.get("created_at"))
        self.started_at = _time(record.get("started_at"))
        self.finished_at = _time(record.get("finished_at"))
        self.heartbeat_at = _time(record.get("heartbeat_at"))
        self.duration: float | None = record.get("duration")
        self.summaries: dict[str, dict[str, Any]] = record.get("metrics") or {}
        self.status_conditions: list[dict[str, Any]] = record.get("status_conditions") or []
        self.path = Path(record["path"])
        self.folder = RunFolder(self.path)
        self.status: str = effective_status(record)

    @property
    def raw(self) -> dict[str, Any]:
        return dict(self._record)

    def metric(self, name: str, rank: int | None = None) -> MetricSeries:
        """Every point of metric ``name`` (merged across writers; one rank with ``rank=``), in
        step order, then time. ``.skipped`` counts damaged records that were left out."""
        return read_metric(self.folder, name, rank)

    def metric_names(self) -> list[str]:
        return self.folder.series_names("metric")

    def events(self, kind: str, name: str) -> EventList:
        """Every event of ``kind`` named ``name``, in time order. A damaged line in a file is
        left out and counted in the list's ``.skipped`` (0 when none); the rest still reads.

        Rich kinds (image, audio, video, histogram, curve, confusion, chart, dataframe, span)
        come as typed events (``labbook.media.typed``): the same ``step``, ``timestamp``,
        ``value`` and ``writer``, plus ``.path`` and readers such as ``ImageEvent.open()``.
        """
        events = read_events(self.folder, kind, name)
        from labbook.media.typed import TYPES, typed_event

        if kind in TYPES:
            typed = EventList(typed_event(kind, event, self.path) for event in events)
            typed.skipped = events.skipped
            return typed
        return events

    def event_names(self, kind: str) -> list[str]:
        return self.folder.series_names(kind)

    def event_kinds(self) -> list[str]:
        return self.folder.event_kinds()

    def resource(self, name: str, rank: int | None = None) -> MetricSeries:
        """A sampled resource series (``"cpu.percent"``, ``"gpu.0.power"``...), like ``metric``."""
        return read_metric(self.folder, name, rank, root=self.folder.resources)

    def resource_names(self) -> list[str]:
        return self.folder.series_names("metric", root=self.folder.resources)

    def file_path(self, rel_path: str) -> Path:
        """The file ``rel_path`` inside the run folder (an asset, an output...), checked to stay
        inside it, symbolic links included: ``run.file_path("assets/image/x_3.png")``."""
        from labbook.store.layout import safe_join

        path = safe_join(self.path, rel_path, "file path")
        if not path.is_file():
            raise NotFoundError(f"Run {self.uuid} has no file {rel_path!r}.")
        return path

    def logs(self, tail: int | None = None, rank: int | None = None):
        """Captured stdout/stderr/logging lines (``labbook.capture.logs.LogLine``), in time order."""
        from labbook.capture.logs import read_logs

        return read_logs(self.path, tail=tail, rank=rank)

    def __repr__(self) -> str:
        return f"<RunRecord {self.project}/{self.uuid} {self.name!r} {self.status}>"


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _settings(home: str | Path | None) -> Settings:
    """The settings of an existing home: a read never creates one."""
    return Settings.load({}, home=home).require_home()


def resolve_run_path(uuid: str, home: str | Path | None = None) -> Path:
    """The folder of run ``uuid`` (a unique prefix of at least 4 characters is enough)."""
    from labbook.catalog.indexer import open_catalog
    from labbook.tracking.run import find_run_folder

    settings = _settings(home)
    uuid = uuid.replace("-", "").lower()
    catalog = open_catalog(settings.catalog_url)
    path = catalog.run_path(uuid)
    if path is None and 4 <= len(uuid) < 32:
        matches = catalog.find_runs_by_prefix(uuid)
        if len(matches) > 1:
            raise NotFoundError(f"Run id prefix {uuid!r} matches several runs; give more characters.")
        if matches:
            path = catalog.run_path(matches[0])
    if path is None or not (Path(path) / "run.json").is_file():
        found = find_run_folder(settings, uuid) if len(uuid) == 32 else None
        if found is None:
            raise NotFoundError(
                f"No run {uuid!r} in {settings.home}. List runs with 'labbook runs ls', or set "
                "LABBOOK_HOME to the home that holds it."
            )
        path = found
    return Path(path)


def get_run(uuid: str, *, home: str | Path | None = None) -> RunRecord:
    """The run ``uuid`` (or a unique prefix), read from its folder."""
    return RunRecord(read_run_record(resolve_run_path(uuid, home)))


class RunRow:
    """A run as the catalog indexes it: quick to list, with ``.load()`` for the full record.

    Built from a row of ``Catalog.search`` as the database returned it; ``inputs``, ``outputs``,
    ``summaries``, the times, ``status`` and ``path`` are converted the first time they are read,
    so listing a thousand runs costs little more than the SQL."""

    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row
        self.uuid: str = row["uuid"]
        self.project: str = row["project"]
        self.name: str | None = row["name"]
        self.description: str | None = row["description"]
        self.tags: list[str] = row["tags"]
        self.duration: float | None = row["duration"]
        self.user = row["user"]
        self.host = row["host"]
        self.git_commit = row["git_commit"]
        self.sort_key: list[Any] = list(row.get("sort_key") or [])

    @cached_property
    def inputs(self) -> dict[str, Any]:
        return _stored_json(self._row["inputs"])

    @cached_property
    def outputs(self) -> dict[str, Any]:
        return _stored_json(self._row["outputs"])

    @cached_property
    def summaries(self) -> dict[str, dict[str, Any]]:
        found = self._row["metrics"]
        if isinstance(found, dict):
            return found
        return {name: {"last": last, "min": low, "max": high, "count": count, "last_step": last_step,
                       "last_timestamp": _stored_time(moment)}
                for name, last, low, high, count, last_step, moment in found}

    @cached_property
    def created_at(self) -> datetime | None:
        return _stored_time(self._row["created_at"])

    @cached_property
    def started_at(self) -> datetime | None:
        return _stored_time(self._row["started_at"])

    @cached_property
    def finished_at(self) -> datetime | None:
        return _stored_time(self._row["finished_at"])

    @cached_property
    def heartbeat_at(self) -> datetime | None:
        return _stored_time(self._row["heartbeat_at"])

    @cached_property
    def path(self) -> Path:
        return Path(self._row["path"])

    @cached_property
    def status(self) -> str:
        status = self._row["status"] or "created"
        if status != "running":
            return status  # liveness only ever changes what a running run reads as
        return effective_status({**self._row, "created_at": self.created_at, "started_at": self.started_at,
                                 "finished_at": self.finished_at, "heartbeat_at": self.heartbeat_at})

    def load(self) -> RunRecord:
        return RunRecord(read_run_record(self.path))

    def metric(self, name: str, rank: int | None = None) -> MetricSeries:
        return read_metric(RunFolder(self.path), name, rank)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid, "project": self.project, "name": self.name, "status": self.status,
            "tags": self.tags, "inputs": self.inputs, "outputs": self.outputs,
            "metrics": {k: {**v, "last_timestamp": _iso(v.get("last_timestamp"))}
                        for k, v in self.summaries.items()},
            "created_at": _iso(self.created_at), "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at), "duration": self.duration, "path": str(self.path),
        }

    def __repr__(self) -> str:
        return f"<RunRow {self.project}/{self.uuid} {self.name!r} {self.status}>"


def _stored_json(value: Any) -> Any:
    """A JSON column as stored: text (SQLite), already decoded (PostgreSQL's driver), or NULL."""
    if value is None:
        return {}
    return json.loads(value) if isinstance(value, str) else value


def _stored_time(value: Any) -> datetime | None:
    """A catalog time (naive UTC) as stored: text (SQLite) or a datetime (PostgreSQL), made aware."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def search_runs(
    project: str | None = None,
    filter: str | None = None,
    order_by: list[str] | str | None = None,
    limit: int | None = 100,
    offset: int = 0,
    *,
    after: list[Any] | None = None,
    home: str | Path | None = None,
) -> list[RunRow]:
    """Runs matching ``filter`` (see ``labbook.catalog.query`` for the language), sorted.

    Each row has ``sort_key``, its values in the ordering; pass the last row's as ``after`` to
    get the next page (keyset paging: as fast at row 100,000 as at row 0)."""
    from labbook.catalog.indexer import open_catalog

    from datetime import timedelta

    settings = _settings(home)
    catalog = open_catalog(settings.catalog_url)
    # the same rule as labbook.capture.liveness: never sooner than three missed heartbeats
    timeout = max(settings.crash_timeout, 3 * settings.heartbeat_interval)
    crashed_before = datetime.now(timezone.utc) - timedelta(seconds=timeout)
    rows = catalog.search(project, filter, order_by, limit, offset, crashed_before=crashed_before,
                          after=after)
    return [RunRow(row) for row in rows]


@dataclass(frozen=True)
class ProjectSummary:
    """A project as listed: its name, number of runs and the newest time any of them shows."""

    name: str
    run_count: int
    created_at: datetime | None
    last_activity: datetime | None


def list_projects(*, home: str | Path | None = None) -> list[ProjectSummary]:
    """Every project in the catalog, by name: ``[p.name for p in labbook.list_projects()]``."""
    from labbook.catalog.indexer import open_catalog

    catalog = open_catalog(_settings(home).catalog_url)
    return [ProjectSummary(**row) for row in catalog.project_summaries()]
