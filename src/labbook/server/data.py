"""The server's one door into the library: every read and write the API makes goes through here.

``ServerData`` holds one ``labbook.Workspace`` on the home the server was started on, opened
when the app starts and closed when it stops: every read (runs, projects, artifacts, lineage,
tokens) goes through that workspace's one catalog, with that home's settings. Writes go through
``labbook.tracking.Run``. It also makes the per-object checks: a token bound to one project
sees nothing of another (``Access``).

Writes open the run with ``Run(..., attach=True)``: the server is one more writer of an
ordinary run folder and never decides the run's status on its own. Open runs are kept a short
while (``IDLE_CLOSE`` seconds) so a client's stream of batches lands in one file per series;
this is only a cache of open files, the run folder stays the record.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from labbook import tokens
from labbook.config import Settings
from labbook.errors import InvalidValueError, LabbookError, NotFoundError
from labbook.server.data_sync import SyncData
from labbook.workspace import Workspace

SERIES_CACHE_POINTS = 8_000_000  # points kept in memory at most (about 200 MB), least recently used out
IDLE_CLOSE = 20.0  # seconds an open run waits for the next write before it is detached
_UUID = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SCOPE_ORDER = {"read": 0, "write": 1, "admin": 2}


@dataclass(frozen=True)
class Access:
    """Who is asking: the scope granted and the one project a token is bound to (None: all)."""

    scope: str
    project: str | None = None
    token_id: str | None = None

    def allows(self, scope: str) -> bool:
        return SCOPE_ORDER[self.scope] >= SCOPE_ORDER[scope]

    def sees(self, project: str | None) -> bool:
        return self.project is None or project == self.project


FULL = Access("admin")




def check_uuid(value: str, field: str = "uuid") -> str:
    """A run id must be a whole UUID (32 hex digits, dashes allowed): no prefixes, no paths."""
    if not isinstance(value, str) or not _UUID.match(value):
        from labbook.server.errors import ApiError

        raise ApiError(422, f"{field}={value[:80]!r} is not a run id.", code="invalid_uuid", field=field,
                       hint="Pass the run's 32-hex-digit uuid (dashes allowed).")
    return value.replace("-", "").lower()


class ServerData(SyncData):
    """Everything the API reads and writes, for one home (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        if settings.store and not settings.artifact_store:  # artifact versions live in the store too
            import dataclasses

            settings = dataclasses.replace(settings, artifact_store=settings.store.rstrip("/") + "/artifacts")
        self.settings = settings
        self.home = settings.home
        self.workspace = Workspace(settings)
        self._open: dict[str, tuple[Any, float]] = {}
        self._store: Any = None
        self._stored: Any = None
        self._series: OrderedDict[tuple[str, str], tuple[tuple, Any]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._background: Any = None  # a thread for work done after a request is answered (_later)
        self._tiling: set[tuple[str, str]] = set()
        self._tiles_memory: dict[tuple[str, str], tuple[int, int]] = {}
        self._stop = threading.Event()
        self._closer = threading.Thread(target=self._close_idle_loop, name="labbook-server-runs", daemon=True)
        self._closer.start()
        from labbook.server.ingest import RunIngest

        self.ingest = RunIngest(settings.artifacts_root)

    # -- catalog ------------------------------------------------------------------------------

    def check_catalog(self) -> None:
        """Open the catalog once: raises CatalogError (naming 'labbook db upgrade') when its
        schema is older than this version's."""
        self.workspace.list_projects()
        if self.settings.store:
            self.store  # noqa: B018 - opens it: a bad store URL or a missing driver stops the start
            import pyarrow.parquet  # noqa: F401 - compacted series are Parquet: loaded at start, not on a chart

    def warm_up(self) -> None:
        """Do once, when the server starts, what a fresh process would otherwise do on its first
        chart: load the modules that read and downsample a series and run each step on a small
        series (numpy's functions, pydantic's serializer of a series, and with an object store
        Parquet's reader and its thread pool). A first request then pays for its data only."""
        from labbook.server import views

        views.warm_up()
        # a first list of runs: SQLAlchemy compiles (and caches) the page's statements, for a filter
        # on a param and a metric ordered by a metric and for the default order, and the page's JSON
        # is made once; the project does not exist, so nothing is read. Float bounds, as a filter
        # on a metric has: a bound's type is part of SQLAlchemy's cache key (an int compiles anew)
        nowhere = "labbook/warm-up"  # no project is named so: a project name holds no slash
        for filter, order_by in (("params.warm_up < 0.5 and metrics.warm_up < 0.5", ["-metrics.warm_up"]),
                                 (None, None)):
            rows = self.workspace.search_runs(nowhere, filter=filter, order_by=order_by, limit=2)
            views.run_page_json(rows, [], False, None)
        if self.settings.store:
            from labbook.server import compact

            compact.warm_up(self.store)

    def check_token(self, token: str) -> tuple[dict[str, Any] | None, str]:
        return tokens.check_token(token, catalog=self.workspace.catalog)

    def list_tokens(self) -> list[dict[str, Any]]:
        return tokens.list_tokens(catalog=self.workspace.catalog)

    # -- projects and runs -------------------------------------------------------------------------

    def list_projects(self, access: Access) -> list[Any]:
        return [p for p in self.workspace.list_projects() if access.sees(p.name)]

    def _project_scope(self, access: Access, project: str | None) -> str | None:
        if access.project is None:
            return project
        if project is not None and project != access.project:
            raise NotFoundError(f"No project {project!r} for this token (it is bound to {access.project!r}).")
        return access.project

    def search_runs(self, access: Access, project: str | None, filter: str | None, order_by: list[str] | None,
                    limit: int, after: list[Any] | None) -> list[Any]:
        project = self._project_scope(access, project)
        try:
            return self.workspace.search_runs(project, filter=filter, order_by=order_by or None, limit=limit,
                                              after=after)
        except Exception as error:
            import sqlalchemy

            if after is not None and isinstance(error, sqlalchemy.exc.StatementError):
                raise InvalidValueError("The cursor's values do not fit this ordering; pass the next_cursor "
                                        "of the previous page unchanged.") from None
            raise

    def get_run(self, access: Access, uuid: str, *, blobs: bool = True) -> Any:
        uuid = check_uuid(uuid)
        if self.stored is not None:  # this server's folder is a cache of the store: bring it up to date
            self.stored.refresh(uuid, blobs=blobs)
        try:
            run = self.workspace.get_run(uuid)
        except NotFoundError:
            raise NotFoundError(f"No run {uuid!r} on this server. List runs with GET /api/v1/runs.") from None
        if not access.sees(run.project):
            raise NotFoundError(f"No run {uuid!r} on this server. List runs with GET /api/v1/runs.")
        return run

    def get_runs(self, access: Access, uuids: list[str]) -> dict[str, Any]:
        """Several runs as ``get_run`` reads each, their folders looked up in one catalog query:
        for each id as given, its run or the ``NotFoundError`` ``get_run`` would raise."""
        if self.stored is not None:  # each run's folder is refreshed from the store first
            runs: dict[str, Any] = {}
            for uuid in uuids:
                try:
                    runs[uuid] = self.get_run(access, uuid)
                except NotFoundError as error:
                    runs[uuid] = error
            return runs
        ids = {uuid: check_uuid(uuid) for uuid in uuids}
        found = self.workspace.get_runs(list(dict.fromkeys(ids.values())))
        unknown = "No run {!r} on this server. List runs with GET /api/v1/runs."
        return {uuid: run if not isinstance(run, NotFoundError) and access.sees(run.project)
                else NotFoundError(unknown.format(uuid))
                for uuid, run in ((uuid, found[ids[uuid]]) for uuid in uuids)}

    @property
    def store(self) -> Any:
        """The object store of run files (``LABBOOK_STORE``), or None when the server has none."""
        if self._store is None and self.settings.store:
            from labbook.catalog.chunks import ChunkedFiles

            self._store = ChunkedFiles(self.settings.store, self.workspace.catalog)
        return self._store

    @property
    def stored(self) -> Any:
        """Every file of synced runs in the object store (``labbook.server.stored``), or None."""
        if self._stored is None and self.store is not None:
            from labbook.server.stored import StoredRuns

            self._stored = StoredRuns(self.store, self.settings.artifacts_root, self.ingest.blob_path)
        return self._stored

    def _cached_series(self, key: tuple, version: tuple, read: Any) -> Any:
        with self._lock:
            cached = self._series.get(key)
            if cached is not None and cached[0] == version:
                self._series.move_to_end(key)
                return cached[1]
        series = read()
        with self._lock:
            self._series[key] = (version, series)
            while sum(len(v[1]) for v in self._series.values()) > SERIES_CACHE_POINTS and len(self._series) > 1:
                self._series.popitem(last=False)
        return series

    def store_series(self, access: Access, uuid: str, name: str) -> Any | None:
        """A metric series held in the object store: from its compacted form (Parquet points and
        min/max tiles) when that is current, else from its chunks; None when the store holds
        none of it. Cached per process like run-folder series, keyed by the files' committed
        lengths (which change whenever the series grows)."""
        from labbook.server import compact

        uuid = check_uuid(uuid)
        project, version = compact.series_state(self.store, uuid, name)
        if project is None or not version:
            return None
        if not access.sees(project):
            raise NotFoundError(f"No run {uuid!r} on this server. List runs with GET /api/v1/runs.")
        files = dict(part for part in version if isinstance(part, tuple))  # as series_state read them
        return self._cached_series(("store", uuid, name), version,
                                   lambda: compact.read_series(self.store, uuid, name, files, self._later))

    def metric_series(self, access: Access, uuid: str, name: str, run: Any = None) -> Any:
        """A metric's points. Series are append-only, so a series read before whose summary
        (count, last step, last time) has not changed since is the same: it is served from a
        small in-process cache (a zoom re-reads nothing). The run folder stays the record;
        with an object store (``LABBOOK_STORE``), series it holds are read from it. ``run``: the
        run as ``get_run(access, uuid)`` returned it, when the caller has it already."""
        if self.store is not None:
            stored = self.store_series(access, uuid, name)
            if stored is not None:
                return stored
        if run is None:
            run = self.get_run(access, uuid)
        summary = (run.summaries or {}).get(name)
        if summary is None:
            return run.metric(name)  # raises NotFoundError naming the run's metrics
        version = (summary.get("count"), summary.get("last_step"), str(summary.get("last_timestamp")))
        return self._cached_series((run.uuid, name), version, lambda: self._run_folder_series(run, name))

    def _run_folder_series(self, run: Any, name: str) -> Any:
        """A run folder's metric, its tiles cached in the home (``labbook.store.tiles``): a
        chart of a series read before, in any process, reads its tiles rather than its points."""
        from labbook.store.events import read_metric, read_metric_tiled
        from labbook.store.layout import RunFolder

        folder = RunFolder(Path(run.path))
        if not Path(self.home).is_dir():  # reading never creates a home (docs/configuration.md)
            return read_metric(folder, name)
        return read_metric_tiled(folder, name, Path(self.home) / "cache" / "tiles", self._later)

    def _later(self, task: Any) -> None:
        """Run ``task`` on the server's one background thread (a series' tiles are written there,
        after the chart that read its points is answered); ``close`` waits for it."""
        with self._lock:
            if self._background is None:
                from concurrent.futures import ThreadPoolExecutor

                self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labbook-server-tiles")
            self._background.submit(task)

    def resource_series(self, access: Access, uuid: str, name: str) -> Any:
        return self.get_run(access, uuid).resource(name)

    def events(self, access: Access, uuid: str, kind: str, name: str) -> list[Any]:
        run = self.get_run(access, uuid)
        if kind == "metric":
            raise InvalidValueError("kind='metric' is a series: read it from /runs/{uuid}/metrics/series.")
        return run.events(kind, name)

    def run_file(self, access: Access, uuid: str, rel_path: str) -> Path:
        """A file in the run folder, resolved and checked to stay inside it (no symlinks out)."""
        return self.get_run(access, uuid).file_path(rel_path)

    def logs(self, access: Access, uuid: str, tail: int) -> list[Any]:
        return self.get_run(access, uuid).logs(tail=tail)

    # -- artifacts -----------------------------------------------------------------------------

    def list_artifacts(self, access: Access, project: str | None, *, kind: str | None, key: str | None,
                       labels: list[str] | None, tag: str | None, producer: str | None, since: Any, until: Any,
                       latest_only: bool, limit: int, after: tuple | None) -> list[Any]:
        project = self._project_scope(access, project)
        return self.workspace.list_artifacts(project, kind=kind, key=key, labels=labels or None, tag=tag,
                                             producer=producer, since=since, until=until,
                                             latest_only=latest_only, limit=limit, after=after)

    def get_artifact(self, access: Access, uri: str) -> Any:
        version = self.workspace.get_artifact(uri)
        if not access.sees(version.project):
            raise NotFoundError(f"No artifact {uri!r} for this token.")
        return version

    def artifact_versions(self, access: Access, uri: str, limit: int) -> list[Any]:
        version = self.get_artifact(access, uri)
        return self.workspace.list_artifacts(version.project, key=version.key, limit=limit)

    def artifact_readable(self, version: Any) -> bool:
        """Whether the version's bytes are in a store this server reads (else: shown, never fetched)."""
        from labbook.store.policy import ReadPolicy

        return ReadPolicy.from_settings(self.settings).allows(version.location)

    def artifact_file(self, access: Access, uri: str, path: str | None = None) -> tuple[Any, Path]:
        """The version and a local path to its bytes (``path``: one file of a directory version);
        only from the configured stores (the library's read policy refuses any other location)."""
        version = self.get_artifact(access, uri)
        if not version.is_dir:
            if path is not None:
                raise InvalidValueError(f"{uri!r} is a file artifact; download it without path=.")
            return version, Path(version.local_path())
        if path is None:
            raise InvalidValueError(f"{uri!r} is a directory artifact; download its files one by one with "
                                    "path= (GET /api/v1/artifacts/files lists them).")
        from labbook.store.layout import safe_join

        target = safe_join(Path(version.local_path()), path, "path")
        if not target.is_file():
            raise NotFoundError(f"Directory artifact {uri!r} has no file {path!r}; GET /api/v1/artifacts/files "
                                "lists them.")
        return version, target

    def artifact_files(self, access: Access, uri: str) -> list[tuple[str, int]]:
        """(path inside it, size) of each file of a directory version."""
        version = self.get_artifact(access, uri)
        if not version.is_dir:
            raise InvalidValueError(f"{uri!r} is a file artifact, not a directory; download it whole.")
        root = Path(version.local_path())
        return [(p.relative_to(root).as_posix(), p.stat().st_size)
                for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()]

    def tag_artifact(self, access: Access, uri: str, tag: str) -> Any:
        self.get_artifact(access, uri)
        return self.workspace.tag_artifact(uri, tag)

    def untag_artifact(self, access: Access, uri: str, tag: str) -> None:
        self.get_artifact(access, uri)
        self.workspace.untag_artifact(uri, tag)

    def delete_artifact(self, access: Access, uri: str, all_versions: bool, data: bool) -> list[Any]:
        self.get_artifact(access, uri)  # with all_versions the URI has no tag: its latest version
        return self.workspace.delete_artifact(uri, all_versions=all_versions, data=data)

    def lineage(self, access: Access, start: str, direction: str, depth: int) -> Any:
        if not start.startswith("store://"):
            run = self.get_run(access, start)
            start = run.uuid
        else:
            self.get_artifact(access, start)
        graph = self.workspace.get_lineage(start, direction=direction, depth=depth)
        if access.project is not None:  # nodes of other projects are left out, with their edges
            hidden = {n.id for n in graph.nodes.values()
                      if n.type != "ref" and n.data.get("project") not in (None, access.project)}
            graph.nodes = {k: v for k, v in graph.nodes.items() if k not in hidden}
            graph.edges = [e for e in graph.edges if e.source not in hidden and e.target not in hidden]
        return graph

    # -- writes ---------------------------------------------------------------------------------

    def create_run(self, access: Access, uuid: str, project: str, name: str | None, description: str | None,
                   tags: list[str], inputs: dict[str, Any]) -> tuple[Any, bool]:
        """Create run ``uuid`` (client-made) or, when it exists, return it: (run, created)."""
        uuid = check_uuid(uuid)
        if not access.sees(project):
            raise NotFoundError(f"This token cannot write to project {project!r}.")
        with self._run_lock(uuid), self._writing(uuid):
            try:
                existing = self.get_run(FULL, uuid, blobs=False)
            except NotFoundError:
                existing = None
            if existing is not None:
                if not access.sees(existing.project):
                    raise NotFoundError(f"This token cannot write to run {uuid!r}.")
                return existing, False
            run = self._open_run(uuid, project, name=name, description=description, tags=tags or None)
            try:
                if inputs:
                    run.log_inputs(**inputs)
            finally:
                run.flush()
                if self.stored is not None:
                    self.stored.push(run.project, uuid)
        return self.workspace.get_run(uuid), True

    def write(self, access: Access, uuid: str, action: Any, *, end: bool = False, index: bool = False) -> Any:
        """Run ``action(run)`` on run ``uuid`` opened for writing, flush, and return the run as read;
        ``index``: also update the run's catalog row now (lists and filters see the change at once)."""
        uuid = check_uuid(uuid)
        with self._run_lock(uuid), self._writing(uuid):
            if self.stored is not None and self.stored.written_elsewhere(uuid):
                self._detach(uuid)  # a run kept open here holds an older run.json in memory
            record = self.get_run(access, uuid, blobs=False)
            before = self._run_json_bytes(record.project, record.uuid)
            run = self._open_run(record.uuid, record.project)
            try:
                action(run)
            finally:
                run.flush()
                if end:
                    self._detach(record.uuid)
                self._keep_base(record.project, record.uuid, before)
                if self.stored is not None:  # the folder is a cache: what was written goes to the store
                    from labbook.tracking.run import files_written

                    self.stored.push(record.project, record.uuid, files_written(run))
            if self.stored is not None and (end or self.is_final(run.status)):
                self._compact_if_ended(self.ingest.folder(record.project, record.uuid))
                self.stored.drop_lock(record.uuid)  # the run ended: its lock file goes (held now)
            if index and not end:
                self.workspace.index_run(Path(record.path))
        return self.workspace.get_run(record.uuid)

    def _writing(self, uuid: str) -> Any:
        """With an object store, run ``uuid``'s writing lock across servers (``StoredRuns.write_lock``)."""
        import contextlib

        return self.stored.write_lock(uuid) if self.stored is not None else contextlib.nullcontext()

    @staticmethod
    def is_final(status: str) -> bool:
        from labbook.store.runfile import FINAL_STATUSES

        return status in FINAL_STATUSES

    def save_upload(self, stream: Iterable[bytes], filename: str) -> Path:
        """Write an upload to a fresh temporary folder under its own (base) name."""
        folder = Path(tempfile.mkdtemp(prefix="labbook-upload-"))
        path = folder / Path(filename).name
        with open(path, "wb") as handle:
            for chunk in stream:
                handle.write(chunk)
        return path

    @staticmethod
    def remove_upload(path: Path) -> None:
        import shutil

        shutil.rmtree(path.parent, ignore_errors=True)

    def _run_lock(self, uuid: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(uuid, threading.Lock())

    def _open_run(self, uuid: str, project: str, **create: Any) -> Any:
        with self._lock:
            entry = self._open.get(uuid)
            if entry is not None:
                self._open[uuid] = (entry[0], time.monotonic())
                return entry[0]
        from labbook.tracking import Run

        # the server's settings: with LABBOOK_STORE its artifact versions go to <store>/artifacts
        run = Run(project=project, run_uuid=uuid, settings=self.settings, attach=True, install_handlers=False,
                  track_code=False, track_env=False, track_logs=False, collect_resources=False,
                  no_op=False, **create)
        with self._lock:
            self._open[uuid] = (run, time.monotonic())
        return run

    def _detach(self, uuid: str) -> None:
        with self._lock:
            entry = self._open.pop(uuid, None)
        if entry is not None:
            entry[0].end()  # attached: flushes and detaches, leaving the status as logged

    def _close_idle_loop(self) -> None:
        while not self._stop.wait(1.0):
            now = time.monotonic()
            with self._lock:
                idle = [u for u, (_, used) in self._open.items() if now - used > IDLE_CLOSE]
            for uuid in idle:
                with self._run_lock(uuid):
                    try:
                        self._detach(uuid)
                    except LabbookError:
                        pass

    def close(self) -> None:
        """Detach every open run and close the workspace (at shutdown)."""
        self._stop.set()
        for uuid in list(self._open):
            self._detach(uuid)
        if self._background is not None:
            self._background.shutdown(wait=True)
        if self._stored is not None:
            self._stored.close()
        self.workspace.close()
