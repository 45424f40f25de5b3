"""The runs as read back: ``RunRecord`` (a run folder), ``RunRow`` (a catalog row) and
``ProjectSummary``, as ``labbook.Workspace`` (and ``labbook.get_run``, its shell) returns them.

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
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from labbook._time import parse_time
from labbook.config import Settings
from labbook.errors import NotFoundError
from labbook.store.events import (  # noqa: F401
    Event,
    EventList,
    MetricSeries,
    read_events,
    read_metric,
    read_resource,
    resource_names,
)
from labbook.store.layout import RunFolder
from labbook.store.liveness import reported_status
from labbook.store.record import read_run_record

if TYPE_CHECKING:
    from functools import cached_property
else:
    class cached_property:
        """``functools.cached_property`` without the lock Python 3.11's takes on every first read
        (Python 3.12 dropped it): a page of 100 ``RunRow`` reads some 1,600 fields once each."""

        def __init__(self, func):
            self.func = func
            self.name = func.__name__
            self.__doc__ = func.__doc__

        def __set_name__(self, owner, name):
            self.name = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = instance.__dict__[self.name] = self.func(instance)
            return value


T = TypeVar("T")


def effective_status(record: dict[str, Any], settings: Settings) -> str:
    """The status to show: run.json's, unless the crashed-run rule (``labbook.store.liveness``,
    with the home's ``settings``) says the process is gone."""
    return reported_status(record, settings)


class RunRecord:
    """A run as read back: metadata, summaries, and access to its series."""

    def __init__(self, record: dict[str, Any], settings: Settings) -> None:
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
        self.status: str = effective_status(record, settings)

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
        return read_resource(self.folder, name, rank)

    def resource_names(self) -> list[str]:
        return resource_names(self.folder)

    def file_path(self, rel_path: str) -> Path:
        """The file ``rel_path`` inside the run folder (an asset, an output...), checked to stay
        inside it, symbolic links included: ``run.file_path("assets/image/x_3.png")``."""
        from labbook.store.layout import safe_join

        path = safe_join(self.path, rel_path, "file path")
        if not path.is_file():
            raise NotFoundError(f"Run {self.uuid} has no file {rel_path!r}.")
        return path

    def logs(self, tail: int | None = None, rank: int | None = None):
        """Captured stdout/stderr/logging lines (``labbook.store.logs.LogLine``), in time order."""
        from labbook.store.logs import read_logs

        return read_logs(self.path, tail=tail, rank=rank)

    def __repr__(self) -> str:
        return f"<RunRecord {self.project}/{self.uuid} {self.name!r} {self.status}>"


def _time(value: Any) -> datetime | None:
    return parse_time(value)


def _remote_settings(home: str | Path | None) -> Settings | None:
    """The settings when reads go to a server: ``LABBOOK_HOST`` set and not offline (a
    ``labbook server`` process is always offline: it reads its own stores)."""
    settings = Settings.load({}, home=home)
    return settings if settings.host and not settings.offline else None


def remote_cache(settings: Settings) -> Settings:
    """Where runs read from the server are kept: one folder per server under the home's cache."""
    import dataclasses
    import hashlib

    slug = hashlib.sha256(settings.host.rstrip("/").encode()).hexdigest()[:16]
    return dataclasses.replace(settings, artifacts_root=str(settings.home / "cache" / "remote" / slug))


class _Column(Generic[T]):
    """A ``RunRow`` field that is its row's value as it is: ``uuid = _Column()`` reads
    ``row._row["uuid"]`` (the fields that need a conversion are cached properties instead)."""

    __slots__ = ("key",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    @overload
    def __get__(self, row: None, owner: type | None = None) -> _Column[T]: ...
    @overload
    def __get__(self, row: RunRow, owner: type | None = None) -> T: ...

    def __get__(self, row: RunRow | None, owner: type | None = None) -> T | _Column[T]:
        if row is None:
            return self
        return row._row[self.key]


class RunRow:
    """A run as the catalog indexes it: quick to list, with ``.load()`` for the full record.

    Built from a row of ``Catalog.search`` as the database returned it; ``inputs``, ``outputs``,
    ``summaries``, the times, ``status`` and ``path`` are converted the first time they are read,
    so listing a thousand runs costs little more than the SQL."""

    def __init__(self, row: dict[str, Any], settings: Settings) -> None:
        self._row = row  # every field is read from it when first asked for
        self._settings = settings

    # Fields the row holds as they are read: each a lookup in the row, at every read.
    uuid: _Column[str] = _Column()
    project: _Column[str] = _Column()
    name: _Column[str | None] = _Column()
    description: _Column[str | None] = _Column()
    tags: _Column[list[str]] = _Column()
    duration: _Column[float | None] = _Column()
    user: _Column[str | None] = _Column()
    host: _Column[str | None] = _Column()
    git_commit: _Column[str | None] = _Column()

    @cached_property
    def sort_key(self) -> list[Any]:
        return list(self._row.get("sort_key") or [])

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
                for _, name, last, low, high, count, last_step, moment in found}

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
        # The same inputs the catalog's status filter compares (heartbeat_at, the reader's
        # settings), so a 'status = crashed' filter and this field always agree.
        return effective_status({**self._row, "created_at": self.created_at, "started_at": self.started_at,
                                 "finished_at": self.finished_at, "heartbeat_at": self.heartbeat_at,
                                 "path": None}, self._settings)

    def load(self) -> RunRecord:
        return RunRecord(read_run_record(self.path), self._settings)

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


class RemoteRunRow(RunRow):
    """A ``RunRow`` listed by a server (``LABBOOK_HOST``): its folder is pulled on first read."""

    def load(self) -> RunRecord:
        from labbook.workspace import get_run

        return get_run(self.uuid, home=self._settings.home)

    def metric(self, name: str, rank: int | None = None) -> MetricSeries:
        return self.load().metric(name, rank)


@dataclass(frozen=True)
class ProjectSummary:
    """A project as listed: its name, number of runs and the newest time any of them shows."""

    name: str
    run_count: int
    created_at: datetime | None
    last_activity: datetime | None
