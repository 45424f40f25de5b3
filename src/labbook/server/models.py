"""Pydantic models of every request body and response the API has (they make the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LIMIT = 1000
MAX_STEPS = 100_000  # a step slider's marks are small numbers: one page holds a long run's
JsonDict = dict[str, Any]


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable code, e.g. not_found, bad_query.")
    message: str = Field(description="What happened, with the value at fault.")
    field: str | None = Field(None, description="The request field at fault, when there is one.")
    hint: str | None = Field(None, description="What to do about it.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"]
    version: str


# -- projects and runs ------------------------------------------------------------------------------


class Project(BaseModel):
    name: str
    run_count: int
    created_at: datetime | None
    last_activity: datetime | None


class ProjectList(BaseModel):
    projects: list[Project]
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next page; null at the end.")


class MetricSummary(BaseModel):
    last: float | None = None
    min: float | None = None
    max: float | None = None
    count: int = 0
    last_step: int | None = None
    last_timestamp: datetime | None = None


class RunBase(BaseModel):
    uuid: str
    project: str
    name: str | None
    description: str | None
    status: str
    tags: list[str]
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    inputs: JsonDict
    outputs: JsonDict
    metrics: dict[str, MetricSummary]


class RunRow(RunBase):
    user: str | None
    host: str | None
    git_commit: str | None
    columns: JsonDict = Field(default_factory=dict, description="The values of the columns asked for.")


class RunPage(BaseModel):
    runs: list[RunRow]
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next page; null at the end.")


class StatusCondition(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str
    time: str | None = None
    reason: str | None = None
    message: str | None = None


class RunDetail(RunBase):
    meta: JsonDict
    code: JsonDict
    env: JsonDict
    readme: str | None
    heartbeat_at: datetime | None
    status_conditions: list[StatusCondition]
    events: dict[str, list[str]] = Field(description="Event names by kind (metric included).")
    resources: list[str]


# -- series -------------------------------------------------------------------------------------------


class Series(BaseModel):
    """One series in the visible range. ``raw``: ``x`` and ``y`` hold every point. Otherwise one
    entry per non-empty bucket: ``x`` (first point's x), ``x_last``, ``first``, ``min``, ``max``,
    ``last``, ``count``."""

    run: str
    name: str
    x_axis: str
    raw: bool
    total: int = Field(description="Points in the visible range.")
    x: list[float | None]
    y: list[float | None]
    x_last: list[float | None]
    first: list[float | None]
    min: list[float | None]
    max: list[float | None]
    last: list[float | None]
    count: list[int]
    source: Literal["run_folder", "chunks", "compacted"] = Field(
        "run_folder", description="Where the points came from: the run folder, the object store's raw chunks, "
                                  "or its compacted form (min/max from tiles). The answer is the same.")


XAxis = Literal["step", "wall", "relative"]
MetricXAxis = Annotated[str, Field(pattern=r"^(step|wall|relative|metric:.+)$", max_length=1031,
                                   description="step, wall, relative, or metric:<name>: x is that metric of the "
                                               "same run at the same step (steps without it are left out).")]


class SeriesQuery(BaseModel):
    runs: list[str] = Field(min_length=1, max_length=200)
    metrics: list[str] = Field(min_length=1, max_length=20)
    x: MetricXAxis = "step"
    points: int = Field(1000, ge=2, le=10000)
    x_min: float | None = None
    x_max: float | None = None


class SeriesList(BaseModel):
    series: list[Series]
    missing: list[JsonDict] = Field(default_factory=list, description="(run, name) pairs with no such series.")


# -- events, logs -----------------------------------------------------------------------------------------


class EventOut(BaseModel):
    step: int | None
    timestamp: datetime
    value: Any
    file: str | None = Field(None, description="The asset's path in the run folder, for /files/{path}.")


class EventList(BaseModel):
    run: str
    kind: str
    name: str
    events: list[EventOut]
    requested_step: int | None = None
    exact: bool | None = Field(None, description="With step=: whether an event sits at exactly that step.")
    next_cursor: str | None = None


class StepList(BaseModel):
    run: str
    kind: str
    name: str
    steps: list[int]
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next page; null at the end.")


class LogLineOut(BaseModel):
    timestamp: datetime
    stream: str
    message: str
    level: str | None = None
    logger: str | None = None
    rank: int = 0


class LogList(BaseModel):
    run: str
    lines: list[LogLineOut]


class NameList(BaseModel):
    names: list[str]


# -- artifacts and lineage -------------------------------------------------------------------------------------


class ArtifactOut(BaseModel):
    uri: str
    project: str
    key: str
    kind: str
    version: int
    uid: str
    hash: str
    size: int
    is_dir: bool
    format: str | None
    tags: list[str]
    labels: JsonDict
    summary: JsonDict
    meta: JsonDict
    producer: JsonDict
    sources: list[Any]
    links: JsonDict
    description: str | None
    created_at: datetime
    stored_in_server: bool = Field(description="False for a version whose bytes live outside the server's "
                                               "stores: shown, never fetched.")
    location: str | None = Field(None, description="Where the bytes are, when outside the server's stores.")
    record: JsonDict | None = Field(None, description="The version record as stored (with records=true): what "
                                                      "a client's labbook.list_artifacts rebuilds the version from.")


class ArtifactPage(BaseModel):
    artifacts: list[ArtifactOut]
    next_cursor: str | None = None


class ArtifactFile(BaseModel):
    path: str
    size: int


class ArtifactFiles(BaseModel):
    uri: str
    files: list[ArtifactFile]
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next page; null at the end.")


class TagRequest(BaseModel):
    uri: str = Field(description="store://<kind>/<project>/<key>[:tag][@uid]")
    tag: str


class DeletedArtifacts(BaseModel):
    deleted: list[ArtifactOut]


class LineageNodeOut(BaseModel):
    id: str
    type: str
    label: str
    data: JsonDict


class LineageEdgeOut(BaseModel):
    source: str
    target: str
    relation: str


class LineageOut(BaseModel):
    root: str
    nodes: list[LineageNodeOut]
    edges: list[LineageEdgeOut]
    truncated: bool = False


# -- writes ---------------------------------------------------------------------------------------------------


class RunCreate(BaseModel):
    project: str = Field(min_length=1, max_length=128)
    name: str | None = Field(None, max_length=1000)
    description: str | None = Field(None, max_length=10000)
    tags: list[str] = Field(default_factory=list, max_length=1000)
    inputs: JsonDict = Field(default_factory=dict)


class Values(BaseModel):
    values: JsonDict = Field(description="Keys and JSON values, merged into the run's set.")
    reset: bool = False


class Tags(BaseModel):
    tags: list[str] = Field(max_length=1000, description="Empty with reset: remove every tag.")
    reset: bool = False


class StatusUpdate(BaseModel):
    status: str
    reason: str | None = Field(None, max_length=1000)
    message: str | None = Field(None, max_length=100_000)


class RunEnd(BaseModel):
    status: Literal["succeeded", "failed", "stopped"] = "succeeded"
    message: str | None = Field(None, max_length=100_000)


class MetricPoint(BaseModel):
    name: str = Field(min_length=1, max_length=1024)
    value: float
    step: int | None = None
    timestamp: datetime | None = None


class MetricBatch(BaseModel):
    points: list[MetricPoint] = Field(min_length=1, max_length=100_000)


class EventIn(BaseModel):
    """A JSON event: ``text`` and ``html`` take ``value`` (a string); ``histogram`` takes
    ``values`` (bin edges) and ``counts``; ``curve`` takes ``x`` and ``y``."""

    kind: Literal["text", "html", "histogram", "curve"]
    name: str = Field(min_length=1, max_length=1024)
    step: int | None = None
    timestamp: datetime | None = None
    value: str | None = None
    values: list[float] | None = None
    counts: list[float] | None = None
    x: list[float] | None = None
    y: list[float] | None = None


class EventBatch(BaseModel):
    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class Written(BaseModel):
    run: str
    written: int


class Uploaded(BaseModel):
    run: str
    kind: str
    name: str
    step: int | None
    artifact: ArtifactOut | None = None


class TokenOut(BaseModel):
    id: str
    name: str
    scope: str
    project: str | None
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenList(BaseModel):
    tokens: list[TokenOut]
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next page; null at the end.")


# -- sync (labbook.sync's protocol) --------------------------------------------------------------


class SyncFile(BaseModel):
    mode: Literal["append", "replace", "blob"]
    size: int
    sha256: str | None = Field(None, description="Not given for append-only files (their size says it).")


class SyncManifest(BaseModel):
    uuid: str
    project: str
    files: dict[str, SyncFile] = Field(description="One page of the run's files, by path (at most limit=).")
    next_cursor: str | None = Field(None, description="Pass as cursor= for the next page; null at the end.")


class SyncCreate(BaseModel):
    project: str = Field(min_length=1, max_length=255)
    run_json: str = Field(max_length=16 * 1024 * 1024, description="The run folder's run.json, as text.")


class SyncCommitted(BaseModel):
    path: str
    committed: int = Field(description="Bytes of the file the server holds now.")
    merged: str | None = Field(None, description="run.json only: the run.json the server holds now when it "
                               "merged the one sent with edits made on the server (the client takes it).")


class SyncLink(BaseModel):
    files: dict[str, str] = Field(max_length=MAX_LIMIT, description="path -> SHA-256 of its bytes.")


class SyncLinked(BaseModel):
    missing: list[str] = Field(description="Hashes the server does not hold: upload them, then link again.")


class SyncHashes(BaseModel):
    hashes: list[str] = Field(max_length=MAX_LIMIT)


class SyncPart(BaseModel):
    committed: int
    complete: bool


class SyncArtifacts(BaseModel):
    versions: list[dict[str, Any]] = Field(max_length=MAX_LIMIT, description="Version records, as stored.")
    dir_files: dict[str, dict[str, str]] = Field(default_factory=dict, description=(
        "For each directory version (by uid): its files, path inside it -> SHA-256 of a blob sent first."))


class SyncVersions(BaseModel):
    imported: list[str]
    existing: list[str]
    missing: list[str]
    skipped: list[str]


class SyncRecord(BaseModel):
    record: dict[str, Any] = Field(description="The artifact version record, as stored.")
    tags: list[str]
