"""``Run``: one execution being tracked, and the object every module-level function forwards to.

A ``Run`` owns a run folder (the record), a ``RunWriter`` (the background thread that writes it)
and, through the writer, its entry in the catalog. It can be used directly or as a context
manager::

    with Run(project="churn", name="baseline") as run:
        run.log_inputs(lr=0.01, layers=[64, 64])
        for step in range(100):
            run.log_metric("loss", 1 / (step + 1), step=step)

An exception leaving the ``with`` block marks the run ``failed``; otherwise it ends ``succeeded``.
A forked child (a DataLoader worker) that logs becomes its own writer of the same run, and never
changes its status (see ``labbook.tracking.forks``). With ``never_crash`` a value or a write that
fails is counted and reported instead of raised (see ``labbook.tracking.guard``).
Rich-event and artifact methods are defined beside their owners and inherited: ``MediaMethods``
(``labbook.media.methods``) and ``ArtifactMethods`` (``labbook.artifacts.methods``), typed against
``RunSurface`` (``labbook.writer.surface``). In a distributed job, what this process may do to the
shared run is its ``RankPolicy`` (``labbook.capture.distributed``). Under ``LABBOOK_NO_OP`` a
``Run(...)`` is a ``NoOpRun``: a ``Run`` whose every public method does nothing.
"""

from __future__ import annotations

import copy
import functools
import os
import secrets
import sys
import threading
import time
import traceback
import uuid as uuid_module
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Iterable

from labbook._time import utc_now_iso as now_iso
from labbook.artifacts.methods import ArtifactMethods
from labbook.config import Settings, process_environment
from labbook.errors import (
    ConfigError,
    InvalidTypeError,
    InvalidValueError,
    LabbookError,
    RunStateError,
)
from labbook.gcfreeze import freeze_imports
from labbook.media.methods import MediaMethods
from labbook.store.layout import RunFolder, RunStore
from labbook.store.names import check_name, check_project, lone_surrogate
from labbook.store.runfile import FINAL_STATUSES, read_run_file, update_run_file
from labbook.tracking.arguments import check_flag, check_init, check_text, run_name, tag_list
from labbook.tracking.hooks import ProcessHooks
from labbook.tracking.values import json_value, metric_value, step_value
from labbook.writer.format import STEP_MAX, STEP_MIN, to_epoch_us
from labbook.writer.surface import RunParts
from labbook.writer.writer import RunWriter

if TYPE_CHECKING:
    from labbook.capture.distributed import RankPolicy
    from labbook.catalog.indexer import RunIndexer

STATUSES = frozenset({
    "created", "resuming", "on_schedule", "compiled", "queued", "scheduled", "starting",
    "running", "processing", "stopping", "failed", "stopped", "succeeded", "skipped", "warning",
    "unschedulable", "upstream_failed", "retrying", "unknown", "done",
})
_time_ns = time.time_ns


def split_owner(owner: str | None, project: str | None) -> tuple[str | None, str | None]:
    """``(owner, project)`` as Polyaxon reads them: ``project="acme.churn"`` (or ``"acme/churn"``)
    is owner ``acme`` and project ``churn``; with ``owner`` given, ``project`` is the bare name."""
    if not project:
        return owner, project
    full = f"{owner}/{project}" if owner else project
    parts = str(full).replace(".", "/").split("/")
    if len(parts) == 1:
        return owner, project
    if len(parts) > 2 or not all(parts):
        raise ConfigError(
            f"Project name {project!r}"
            + (f" (with owner={owner!r})" if owner else "")
            + " is not usable: write 'owner.project' (or 'owner/project'), or the bare project name; "
            "a project name cannot itself contain '.' or '/'."
        )
    return parts[0], parts[1]


def normalize_uuid(value: str) -> str:
    try:
        return uuid_module.UUID(str(value)).hex
    except ValueError:
        raise ConfigError(
            f"run_uuid {value!r} is not a UUID. Pass the 32-hex-digit id of a run "
            "(see 'labbook runs ls')."
        ) from None


def find_run_folder(settings: Settings, run_uuid: str, project: str | None = None) -> Path | None:
    """The folder of an existing run: under the given project, else any project's (``RunStore.find``)."""
    return RunStore(settings.artifacts_root).find(run_uuid, project)


class Run(ArtifactMethods, MediaMethods):
    """A tracked run. See the module docstring; arguments follow Polyaxon's ``tracking.init``.

    ``attach=True`` opens the run as one more writer that does not own its lifecycle (what the
    server does for HTTP clients): an existing run keeps its status, and ``end()`` flushes and
    detaches without finishing it. ``Run(project="p", run_uuid=uuid, attach=True)``.

    labbook's own keyword arguments include ``sync_tensorboard=True`` (log what a
    ``SummaryWriter`` writes under ``get_tensorboard_path()`` while the run runs; see
    docs/integrations-tensorboard.md) and ``started_at`` (a new run's start time, for runs
    imported from another tracker; its end time is the ``last_transition_time`` of its final
    ``log_status``).
    """

    _indexer: RunIndexer | None  # None in a forked child (labbook.tracking.forks)
    _loaded: Settings | None  # the settings __new__ read, which __init__ takes (not reading them again)

    def __new__(cls, *args: Any, **kwargs: Any) -> Run:
        """A ``Run``: under ``no_op`` (``LABBOOK_NO_OP=1``) its ``NoOpRun`` kind, which does nothing;
        under ``never_crash`` its kind whose ``log_*`` methods count failures instead of raising
        (``labbook.tracking.guard``)."""
        check_init(kwargs)  # __init__ checks the positional ones too
        no_op, never_crash = kwargs.get("no_op"), kwargs.get("never_crash")
        settings = kwargs.get("settings")  # as __init__ resolves them
        if settings is None and (no_op is None or never_crash is None):
            settings = Settings.load({"never_crash": never_crash}, home=kwargs.get("home"))
        if settings is not None:
            no_op = settings.no_op if no_op is None else no_op
            never_crash = settings.never_crash
        if no_op:
            return super().__new__(NoOpRun)
        if never_crash:
            from labbook.tracking.guard import never_crash_class

            run = super().__new__(never_crash_class(cls))
        else:
            run = super().__new__(cls)
        if kwargs.get("settings") is None:
            run._loaded = settings  # __init__ applies its arguments to these, not reading them again
        return run

    def __init__(
        self,
        owner: str | None = None,
        project: str | None = None,
        run_uuid: str | None = None,
        client: Any = None,
        track_code: bool = True,
        track_env: bool = True,
        track_logs: bool = True,
        refresh_data: bool = False,
        artifacts_path: str | os.PathLike[str] | None = None,
        collect_artifacts: bool | None = None,
        collect_resources: bool | None = None,
        is_offline: bool | None = None,
        is_new: bool | None = None,
        name: str | None = None,
        description: str | None = None,
        tags: str | Iterable[str] | None = None,
        *,
        no_op: bool | None = None,
        auto_create: bool = True,
        home: str | os.PathLike[str] | None = None,
        settings: Settings | None = None,
        flush_interval: float | None = None,
        install_handlers: bool = True,
        resources_interval: float | None = None,
        attach: bool = False,
        sync_tensorboard: bool = False,
        started_at: datetime | str | None = None,
        never_crash: bool | None = None,
    ) -> None:
        check_init(locals())
        owner, project = split_owner(owner, project)
        explicit = {"project": project, "flush_interval": flush_interval,
                    "resources_interval": resources_interval, "never_crash": never_crash}
        loaded: Settings | None = self.__dict__.pop("_loaded", None)  # by __new__, from the same call
        if settings is None:
            settings = loaded.with_overrides(explicit) if loaded is not None else Settings.load(explicit, home=home)
        self._settings = settings
        if "{{" in (self._settings.artifact_path or ""):  # no template, nothing to check (nor to import)
            from labbook.store.policy import check_template

            check_template(self._settings.artifact_path)  # an unknown {{name}} fails here, not at each log
        self._owner_pid = os.getpid()  # the process whose run this is; forked children differ
        self._never_crash = bool(self._settings.never_crash)
        self._ended = False
        self._ending = False  # end() is writing the last changes: its indexer.close() indexes them
        # attach: this process is one writer among others and does not own the run's lifecycle
        # (the server writing for a remote client): opening an existing run leaves its status
        # alone, and end() flushes and detaches without finishing the run.
        self._attached = attach
        self._closers: list[Callable[[], None]] = []
        self._syncer: Any = None  # ships the run folder to LABBOOK_HOST (labbook.sync)
        self._lock = threading.RLock()
        if not project:
            owner, project = split_owner(owner, self._settings.project)
        self.project = check_project(project)
        process = process_environment()
        env_uuid = process.run_uuid
        wanted = run_uuid or (env_uuid if not is_new else None)
        from labbook.capture.distributed import RankPolicy, shared_run_uuid  # one run per distributed job

        self._group_uuid = None if wanted else shared_run_uuid(self.project)
        wanted = wanted or self._group_uuid
        self.uuid = normalize_uuid(wanted) if wanted else uuid_module.uuid4().hex
        if artifacts_path is not None:
            folder_path = Path(artifacts_path).expanduser().absolute()
        else:
            found = find_run_folder(self._settings, self.uuid, self.project) if wanted else None
            folder_path = found or Path(self._settings.artifacts_root) / self.project / self.uuid
        self._folder = RunFolder(folder_path)
        exists = self._folder.run_file.is_file()
        if is_new and exists and not self._group_uuid:
            raise RunStateError(
                f"is_new=True but run {self.uuid} already exists at {folder_path}. "
                "Drop run_uuid to start a new run, or is_new to resume it."
            )
        try:
            self._folder.create()
        except OSError as error:
            raise ConfigError(
                f"Cannot create the run folder {folder_path}: {error.strerror}. Point LABBOOK_HOME "
                "(or artifacts_path) at a writable folder."
            ) from None
        self.rank = process.rank
        self._rank_policy: RankPolicy = RankPolicy.for_rank(self.rank, self._settings.rank_metrics)
        self.writer_id = f"{self.rank}-{os.getpid()}-{secrets.token_hex(3)}"
        created = now_iso()
        begun = created if started_at is None or exists else _iso_time("started_at", started_at)
        if exists:
            record = read_run_file(self._folder.run_file)
            self.project = record.get("project", self.project)
        else:
            record = {
                "uuid": self.uuid, "owner": owner, "project": self.project, "name": name,
                "description": description, "tags": tag_list("init", tags) if tags else [],
                "status": "created", "status_conditions": [], "created_at": begun,
                "started_at": None, "finished_at": None, "duration": None,
                "inputs": {}, "outputs": {}, "meta": {}, "readme": None, "code": {}, "env": {},
            }
        ops: list = [("set", "status", "running"),
                     ("append", "status_conditions",
                      {"status": "resuming" if exists else "running", "time": begun,
                       "reason": "LabbookClient", "message": "Run resumed" if exists else "Run started"})]
        if not record.get("started_at"):
            ops.append(("set", "started_at", begun))
        ops.append(("set", "heartbeat_at", created))  # alive now; the heartbeat thread keeps it fresh
        if exists:
            ops += [("set", "finished_at", None), ("set", "duration", None)]
            if owner and owner != record.get("owner"):
                ops.append(("set", "owner", owner))
            if name:
                ops.append(("set", "name", name))
            if description:
                ops.append(("set", "description", description))
            if tags:
                ops.append(("tags_add", "tags", tag_list("init", tags)))
        if exists and self.rank != 0 and (self._group_uuid or env_uuid):
            ops = []  # another process of a distributed job attaching: rank 0 owns the status
        if exists and attach:
            ops = [op for op in ops if op[1] in ("name", "description", "tags")]
        # Rank 0's liveness goes into this same write of run.json (the heartbeat then only
        # refreshes it), so a new run's run.json is written once when it starts.
        liveness_recorded = self.rank == 0 and any(op[1] == "heartbeat_at" for op in ops)
        if liveness_recorded:
            ops.append(("set", "liveness", {"heartbeat_interval": float(self._settings.heartbeat_interval)}))
        entry, capture_later = None, []
        if track_env or (track_code and self.rank == 0):
            from labbook.capture.env import entry_file

            entry = entry_file()  # now: the background capture may run after the script has ended
            if track_code and self.rank == 0:
                capture_later += self._captured_now("code", entry, ops)
            if track_env:
                capture_later += self._captured_now("env", entry, ops)
        try:
            self._record = update_run_file(self._folder.run_file, ops, initial=record)
        except OSError as error:
            raise ConfigError(
                f"Cannot write {self._folder.run_file}: {error.strerror}. Point LABBOOK_HOME "
                "(or artifacts_path) at a writable folder."
            ) from None
        freeze_imports("run")  # what is imported by now is never walked by a full collection

        self._indexer = None  # made last (below); until then a drain asks it for nothing
        self._writer = RunWriter(
            self._folder,
            self.writer_id,
            flush_interval=self._settings.flush_interval,
            max_pending=self._settings.max_pending,
            header_extra={"rank": self.rank, "pid": os.getpid()},
            after_flush=self._after_flush,
            on_failure=None if self._never_crash else self._writer_failed,
        )
        # The hot path appends here directly; a rank whose metrics are not kept (the documented
        # default: only rank 0's) appends to a list that keeps nothing.
        self._metrics = self._writer.metrics if self._rank_policy.keeps_metrics else _Discarded()
        self._artifact_state: dict[str, Any] = {"consumed": [], "tensorboard": False}
        self._parts = RunParts(uuid=self.uuid, rank=self.rank, writer_id=self.writer_id, folder=self._folder,
                               writer=self._writer, settings=self._settings, record=self._record,
                               closers=self._closers)
        self._max_pending = self._settings.max_pending
        self._metric_series: dict[str, int] = {}
        self._metric_rows: dict[tuple[str, ...], tuple[int, ...]] = {}  # log_metrics names -> ids
        for capture in capture_later:  # what this process captures for the first time
            self._writer.submit(functools.partial(capture, entry))
        if capture_later:
            self._writer.wake()  # first drain now, without waiting for it
        self._hooks = ProcessHooks(self.end, self._failed_by_exception, self._stopped_by_sigterm,
                                   on_child=self._end_in_child)
        if install_handlers:
            self._hooks.install()
        self._start_capture(track_logs=track_logs, collect_resources=collect_resources,
                            liveness_recorded=liveness_recorded)
        # The catalog entry last: in a process that has not opened this catalog yet, the indexer
        # thread starts opening it (creating it, in a new home) now, beside the caller's code,
        # rather than beside the rest of this __init__, which it would slow down by taking the
        # interpreter lock from it (importing sqlite3, say) each time this thread waits on I/O.
        from labbook.catalog.indexer import RunIndexer

        self._indexer = indexer = RunIndexer(self.path, self._settings.catalog_url, self._settings.index_interval,
                                             self.uuid)
        indexer.wait_first(timeout=10.0)  # listed at once, even if killed a moment later
        offline = self._settings.offline if is_offline is None else bool(is_offline)
        if self._settings.host and not offline and not attach and self.rank == 0:
            # One syncer per run folder: rank 0's ships every writer's files (its run.json is the
            # one that decides the status); the run folder stays the record.
            from labbook.sync.runs import Syncer

            self._syncer = Syncer(self._folder.path, self._settings)
        from labbook.tracking import forks

        forks.track(self)
        if sync_tensorboard:  # what a SummaryWriter writes to get_tensorboard_path() is logged too
            from labbook.media.tensorboard import start_sync

            start_sync(self)

    # -- identity and paths --------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._folder.path

    @property
    def run_uuid(self) -> str:
        """Polyaxon's name for ``uuid``: the run's 32-hex-digit id."""
        return self.uuid

    @property
    def owner(self) -> str | None:
        """The owner part of ``project="owner.project"`` (or ``owner=``); None when not given."""
        return self._record.get("owner")

    @property
    def name(self) -> str | None:
        return self._record.get("name")

    @property
    def status(self) -> str:
        return self._record.get("status", "created")

    @property
    def inputs(self) -> dict[str, Any]:
        return dict(self._record.get("inputs") or {})

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self._record.get("outputs") or {})

    @property
    def tags(self) -> list[str]:
        return list(self._record.get("tags") or [])

    @property
    def settings(self) -> Settings:
        return self._settings

    def get_artifacts_path(
        self, rel_path: str | None = None, ensure_path: bool = False, is_dir: bool = False,
        use_store_path: bool = False,
    ) -> str:
        """``<run folder>[/rel_path]``; ``ensure_path`` creates the parent (or the folder if ``is_dir``)."""
        return self._ensure(self._folder.artifacts_path(rel_path), ensure_path, is_dir)

    def get_outputs_path(
        self, rel_path: str | None = None, ensure_path: bool = True, is_dir: bool = False,
        use_store_path: bool = False,
    ) -> str:
        """``<run folder>/outputs[/rel_path]``, created by default."""
        return self._ensure(self._folder.outputs_path(rel_path), ensure_path, is_dir)

    @staticmethod
    def _ensure(path: Path, ensure_path: bool, is_dir: bool) -> str:
        if ensure_path:
            (path if is_dir else path.parent).mkdir(parents=True, exist_ok=True)
        return str(path)

    def set_artifacts_path(self, artifacts_path: str | None = None, is_related: bool = False) -> None:
        """Accepted for Polyaxon code; a labbook run's folder is fixed when it starts."""
        if artifacts_path and Path(artifacts_path).absolute() != self.path:
            raise RunStateError(
                f"set_artifacts_path({artifacts_path!r}): this run already writes to {self.path}. "
                "Pass artifacts_path to tracking.init() instead."
            )

    def set_run_event_logger(self) -> None:
        """Accepted for Polyaxon code: labbook's event writer is always on."""

    def set_run_resource_logger(self) -> None:
        """Accepted for Polyaxon code: resources are collected per ``collect_resources``."""

    def set_run_process_sidecar(self) -> None:
        """Accepted for Polyaxon code: there is no sidecar; the run folder is written directly."""

    def get_log_level(self) -> str:
        """``LABBOOK_LOG_LEVEL`` (or ``POLYAXON_LOG_LEVEL``), ``INFO`` by default."""
        return process_environment().log_level

    # -- metrics: the hot path -------------------------------------------------------------

    def log_metric(self, name: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
        """Log one value of the metric ``name``: ``run.log_metric("loss", 0.3, step=10)``."""
        series = self._metric_series.get(name)
        if series is None:
            series = self._new_metric_series(name)
        if type(value) is not float:
            value = metric_value(name, value)
        if step is not None and (type(step) is not int or not STEP_MIN <= step <= STEP_MAX):
            step = step_value(step)
        self._metrics.extend(  # one record, four entries, added at once (see RunWriter.metrics)
            (series, step, _time_ns() // 1000 if timestamp is None else to_epoch_us(timestamp), value)
        )
        if len(self._metrics) > self._writer.drain_mark:  # a batch to write, or back-pressure
            self._writer.queue_full()

    def log_metrics(self, step: int | None = None, timestamp: Any = None, **metrics: Any) -> None:
        """Log several metrics at one step: ``run.log_metrics(step=3, loss=0.2, accuracy=0.9)``."""
        self._queue_metrics(step, timestamp, metrics)

    def _queue_metrics(self, step: int | None, timestamp: Any, metrics: dict[str, Any]) -> None:
        """``log_metrics`` with the metrics as one dict. The step is queued as ONE record,
        ``ids, step, time, values``, which the writer splits into the metrics' files."""
        if step is not None and (type(step) is not int or not STEP_MIN <= step <= STEP_MAX):
            step = step_value(step)
        names = tuple(metrics)
        ids = self._metric_rows.get(names)
        if ids is None:
            if not names:
                return
            ids = self._new_metric_row(names)
        values = tuple(metrics.values())
        try:  # one pass in C: floats, ints and bools add up to a float (the writer packs them as floats)
            plain = type(sum(values, 0.0)) is float
        except Exception:  # noqa: BLE001 - a value sum() refuses: metric_value names it below
            plain = False
        if not plain:  # numpy, torch, a bad value: all or nothing, a bad one raises and logs none
            values = tuple(v if type(v) is float else metric_value(n, v) for n, v in zip(names, values))
        self._metrics.extend((ids, step, _time_ns() // 1000 if timestamp is None else to_epoch_us(timestamp),
                              values))
        if len(self._metrics) > self._writer.drain_mark:  # a batch to write, or back-pressure
            self._writer.queue_full()

    # What tracking.log_metrics calls with its keyword arguments as they are (no re-packing);
    # the never-crash class guards it as it guards log_metrics (tracking/guard.py).
    _log_metrics = _queue_metrics

    def _new_metric_row(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """The series ids of a ``log_metrics`` call's names, kept for the next call with the same."""
        ids = []
        for name in names:
            series = self._metric_series.get(name)
            ids.append(self._new_metric_series(name) if series is None else series)
        row = self._metric_rows[names] = tuple(ids)
        self._writer.expect_points(len(row))  # the first batch to write counts points, not calls
        return row

    def _new_metric_series(self, name: str) -> int:
        self._check_open("log_metric")
        check_name(name, "metric name")
        if not self._rank_policy.keeps_metrics:
            self._metric_series[name] = -1  # its points go to _Discarded
            return -1
        series_id = self._metric_series[name] = self._writer.metric_id(name)
        return series_id

    # -- other step-wise events ---------------------------------------------------------------

    def _emit(self, kind: str, name: str, value: Any, step: int | None = None, timestamp: Any = None) -> None:
        """Queue one JSON-lines event; ``value`` must be JSON data (checked by the caller)."""
        self._check_open(f"log_{kind}")
        series = self._writer.series(kind, check_name(name, f"{kind} name"))
        self._writer.events.append((series, step_value(step), to_epoch_us(timestamp), value))
        if len(self._writer.events) > self._max_pending:
            self._writer.backpressure()

    def log_text(self, name: str, text: str | None = None, step: int | None = None,
                 timestamp: Any = None, *, value: str | None = None) -> None:
        """Log a text value: ``run.log_text("sample", "the cat sat", step=2)`` (``value=`` works too)."""
        text = _one_of("log_text", "text", text, "value", value)
        if not isinstance(text, str):
            raise _type_error("log_text", name, "text", text, "a str")
        self._emit("text", name, _storable_text("log_text", name, "text", text), step, timestamp)

    def log_html(self, name: str, html: str, step: int | None = None, timestamp: Any = None) -> None:
        """Log an HTML snippet, shown sandboxed by the dashboard."""
        if not isinstance(html, str):
            raise _type_error("log_html", name, "html", html, "a str")
        self._emit("html", name, _storable_text("log_html", name, "html", html), step, timestamp)

    # -- params, outputs, metadata -------------------------------------------------------------

    def _merge(self, what: str, section: str, reset: bool, values: dict[str, Any]) -> None:
        self._check_open(what)
        check_flag(what, "reset", reset)
        clean = {check_name(k, f"{section} key"): json_value(what, k, v) for k, v in values.items()}
        with self._lock:
            current = {} if reset else dict(self._record.get(section) or {})
            current.update(clean)
            self._record[section] = current
        self._writer.update_run(("replace" if reset else "merge", section, clean))

    def log_inputs(self, reset: bool = False, async_req: bool = True, **inputs: Any) -> None:
        """Record params (types kept, nested dicts allowed): ``run.log_inputs(lr=0.01, opt={"name": "adam"})``."""
        self._merge("log_inputs", "inputs", reset, inputs)

    def log_outputs(self, reset: bool = False, async_req: bool = True, **outputs: Any) -> None:
        """Record single results: ``run.log_outputs(accuracy=0.93, report="ok")``."""
        self._merge("log_outputs", "outputs", reset, outputs)

    def log_meta(self, reset: bool = False, async_req: bool = True, **meta: Any) -> None:
        """Record free-form metadata about the run: ``run.log_meta(has_model=True)``."""
        self._merge("log_meta", "meta", reset, meta)

    def log_tags(self, tags: str | Iterable[str], reset: bool = False, async_req: bool = True) -> None:
        """Add tags (or replace them all with ``reset=True``)."""
        self._check_open("log_tags")
        check_flag("log_tags", "reset", reset)
        new = tag_list("log_tags", tags)
        with self._lock:
            current = [] if reset else list(self._record.get("tags") or [])
            current.extend(t for t in new if t not in current)
            self._record["tags"] = current
        self._writer.update_run(("tags_set" if reset else "tags_add", "tags", new))

    def log_progress(self, value: float) -> None:
        """Record progress in [0, 1]."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error("log_progress", "progress", "value", value, "a number in [0, 1]")
        if not 0 <= value <= 1:
            raise InvalidValueError(f"log_progress({value!r}): progress must be a number in [0, 1].")
        self.log_meta(progress=float(value))

    def _set(self, what: str, key: str, value: Any) -> None:
        self._check_open(what)
        value = run_name(what, value) if key == "name" else check_text(what, key, value)
        self._record[key] = value
        self._writer.update_run(("set", key, value))

    def set_name(self, name: str, async_req: bool = True) -> None:
        """Rename the run."""
        self._set("set_name", "name", name)

    def set_description(self, description: str, async_req: bool = True) -> None:
        """Set the run's one-line description."""
        self._set("set_description", "description", description)

    def set_readme(self, readme: str, async_req: bool = True) -> None:
        """Markdown shown on the run's page."""
        self._set("set_readme", "readme", readme)

    def get_inputs(self) -> dict[str, Any]:
        """The run's params (everything ``log_inputs`` recorded), as a new dict."""
        return copy.deepcopy(self._record.get("inputs") or {})

    def get_outputs(self) -> dict[str, Any]:
        """The run's single results (everything ``log_outputs`` recorded), as a new dict."""
        return copy.deepcopy(self._record.get("outputs") or {})

    def update(self, data: dict[str, Any] | None = None, async_req: bool = False) -> dict[str, Any]:
        """Polyaxon's generic update of name, description, readme, tags, inputs, outputs, meta;
        returns the run's record after the change (a copy, the shape of ``run.json``).

        ``record = run.update({"description": "baseline", "inputs": {"lr": 0.1}})``;
        ``run.update()`` only returns the record.
        """
        if data is not None and not isinstance(data, Mapping):
            raise _type_error("update", "data", "data", data, "a dict")
        for key, value in dict(data or {}).items():
            if key in ("name", "description", "readme"):
                self._set("update", key, value)
            elif key == "tags":
                self.log_tags(value)
            elif key in ("inputs", "outputs", "meta"):
                if not isinstance(value, Mapping):
                    raise _type_error("update", key, key, value, "a dict")
                self._merge("update", key, False, dict(value))
            else:
                raise RunStateError(
                    f"update() cannot change {key!r}. Use one of: name, description, readme, tags, "
                    "inputs, outputs, meta."
                )
        with self._lock:
            return copy.deepcopy(self._record)

    # -- status and lifecycle ------------------------------------------------------------------

    def log_status(self, status: str, reason: str | None = None, message: str | None = None,
                   last_transition_time: Any = None, last_update_time: Any = None) -> None:
        """Record a status condition (Polyaxon's statuses); a final one also sets finish times."""
        if not self._rank_policy.owns_status:  # another rank of a distributed job
            name = str(getattr(status, "value", status)).lower()
            changes, message = self._rank_policy.status_change(name, message)
            if not changes:
                self._record["status"] = name  # this process is done; the run goes on under rank 0
                return
        if os.getpid() != self._owner_pid:
            raise RunStateError(
                f"log_status({status!r}): this is a forked child of process {self._owner_pid}, "
                f"which owns run {self.uuid}'s status. Set the status there; a child's points and "
                "events are kept as its own writer's."
            )
        status = str(getattr(status, "value", status)).lower()
        if status not in STATUSES:
            raise RunStateError(f"Unknown status {status!r}. Use one of: {', '.join(sorted(STATUSES))}.")
        moment = last_transition_time or now_iso()
        if isinstance(moment, datetime):
            moment = moment.isoformat()
        condition = {"status": status, "time": moment, "reason": reason or "LabbookClient",
                     "message": message}
        ops: list = [("set", "status", status), ("append", "status_conditions", condition)]
        if status in FINAL_STATUSES:
            started = self._record.get("started_at") or self._record.get("created_at")
            duration = (datetime.fromisoformat(moment) - datetime.fromisoformat(str(started))).total_seconds()
            ops += [("set", "finished_at", moment), ("set", "duration", duration)]
            self._record.update(finished_at=moment, duration=duration)
        self._record["status"] = status
        self._writer.update_run(*ops)

    def _end_with(self, status: str, reason: str | None, message: str | None) -> None:
        if os.getpid() != self._owner_pid:
            self.log_status(status)  # refused: a child never sets the run's status
        if self._ended or self._record.get("status") in FINAL_STATUSES:
            self.end()
            return
        self.log_status(status, reason=reason, message=message)
        self.end()

    def log_succeeded(self, reason: str | None = None, message: str | None = "Operation has succeeded") -> None:
        """Mark the run ``succeeded`` and end it (nothing changes if it already has a final status)."""
        self._end_with("succeeded", reason, message)

    def log_failed(self, reason: str | None = None, message: str | None = None) -> None:
        """Mark the run ``failed`` (``message``: e.g. the traceback) and end it."""
        self._end_with("failed", reason, message)

    def log_stopped(self, reason: str | None = None, message: str | None = "Operation is stopped") -> None:
        """Mark the run ``stopped`` and end it."""
        self._end_with("stopped", reason, message)

    def flush(self) -> None:
        """Return once everything logged so far is written to the run folder.

        Raises ``WriteError`` when it could not be (a full disk): what was not written stays
        pending, within ``max_pending``, and is written when the disk has room again. With
        ``never_crash`` it returns, and losses are counted instead (see ``end()``).
        """
        self._writer.flush(check=not self._never_crash)

    def end(self) -> None:
        """Finish the run: ``succeeded`` unless already final; flush, index and release hooks.

        Values or writes that failed are reported on stderr and in run.json ``dropped``; without
        ``never_crash``, a failure not raised yet (records a full disk kept out) raises here,
        after the run is ended.
        """
        if os.getpid() != self._owner_pid:
            self._end_in_child()
            return
        with self._lock:
            if self._ended:
                return
            if not self._attached and self._record.get("status") not in FINAL_STATUSES:
                self.log_status("succeeded", message="Operation has succeeded")
            for closer in reversed(self._closers):
                try:
                    closer()
                except Exception:  # noqa: BLE001 - ending must go on; reported in errors
                    self._writer.errors.append(traceback.format_exc())
            self._ending = True
            self._writer.close()
            if self._indexer is not None:
                self._indexer.close()
            if self._syncer is not None:
                self._syncer.close(self._settings.sync_timeout)  # bounded; the rest: 'labbook sync'
            self._ended = True
            self._metric_series = {}  # the hot path then re-checks and refuses: the run has ended
            self._metric_rows = {}
            self._hooks.uninstall()
        _forget_active(self)
        self._report_losses()

    def _report_losses(self) -> None:
        writer = self._writer
        if writer.errors:
            first = writer.errors[0].strip().splitlines()[-1]
            print(f"labbook: run {self.uuid} ended with {len(writer.errors)} writer error(s); "
                  f"first: {first}", file=sys.stderr)
        dropped = writer.dropped_report()
        if dropped:
            total = sum(entry["count"] for entry in dropped.values())
            parts = "; ".join(f"{reason} {entry['count']} (first: {entry['message']})"
                              for reason, entry in dropped.items())
            print(f"labbook: run {self.uuid} ({writer.writer_id}) dropped {total} value(s): "
                  f"{parts}", file=sys.stderr)
        if not self._never_crash:
            writer.check()

    def _end_in_child(self) -> None:
        """``end()`` in a forked child: write what the child logged, never touch the status."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._metric_series = {}
            self._metric_rows = {}
            self._writer.close()
        if self._writer.started:
            self._report_losses()

    def sync_events_summaries(self, last_check: Any = None, events_path: str | None = None) -> None:
        """Polyaxon recomputes summaries from event files; labbook keeps them incrementally, so
        this flushes pending events and refreshes the catalog entry."""
        self._writer.flush()
        if self._indexer is not None:  # None in a forked child: its parent indexes the run
            self._indexer.index_now()

    def sync_system_events_summaries(self, last_check: Any = None, events_path: str | None = None) -> None:
        """See ``sync_events_summaries``."""
        self.sync_events_summaries(last_check, events_path)

    def push_offline_run(self, path: str | None = None, upload_artifacts: bool = True, clean: bool = False,
                         **kwargs: Any) -> None:
        """Send a run folder logged offline (``is_offline=True``, ``LABBOOK_OFFLINE=1``) to the
        server of ``LABBOOK_HOST``: this run's folder, or the run folder at ``path``. Only what
        the server lacks is sent. ``upload_artifacts=False`` leaves its artifact versions out;
        ``clean=True`` removes the local folder once the server holds all of it. Raises
        ``SyncUnavailableError`` when the server cannot be reached within ``sync_timeout``."""
        from labbook.sync.runs import push_folder

        if path is None and not self._ended:
            self.flush()
        push_folder(Path(path) if path else self.path, self._settings, artifacts=upload_artifacts, clean=clean)

    def pull_remote_run(self, path: str | None = None, download_artifacts: bool = True) -> None:
        """Rebuild this run's folder from the server of ``LABBOOK_HOST``, byte for byte: into
        ``path``, or into its place in this home (only the bytes it lacks are fetched).
        ``download_artifacts=False`` fetches its metadata alone (run.json and the metric
        summaries), not its events, logs, lineage, assets or output files."""
        check_flag("pull_remote_run", "download_artifacts", download_artifacts)
        from labbook.sync.runs import pull_run

        pull_run(self.uuid, self._settings, dest=path, artifacts=download_artifacts)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if os.getpid() != self._owner_pid:
            self._end_in_child()
        elif exc_type is None:
            self.end()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.log_stopped(reason="KeyboardInterrupt", message="Interrupted by the user")
        else:
            self.log_failed(reason=exc_type.__name__,
                            message="".join(traceback.format_exception(exc_type, exc, tb)))

    def _check_open(self, what: str) -> None:
        if self._ended:
            raise RunStateError(
                f"{what}(): run {self.uuid} has ended. Start a new one with tracking.init(), or "
                f"resume this one with tracking.init(run_uuid={self.uuid!r})."
            )
        if not self._never_crash:
            self._writer.check()  # a write that failed since: raised here, at the next call

    def _writer_failed(self) -> None:
        """On the writer thread, at a new failure: send the next ``log_metric`` call through
        ``_check_open``, which raises it (the hot path itself checks nothing)."""
        self._metric_series = {}
        self._metric_rows = {}

    # -- background work (writer thread) ------------------------------------------------------

    def _after_flush(self, changed: bool) -> None:
        if changed and self._indexer is not None and not self._ending:
            self._indexer.request()

    def _captured_now(self, what: str, entry: str | None, ops: list) -> list[Callable[[str | None], None]]:
        """The code or environment (``what``) as this process captured them for an earlier run,
        added to ``ops`` (the run's first write of run.json); where there is none yet, or it
        cannot be read now (a deleted working directory, a diff that cannot be written), the
        capture to leave to the flusher thread (git, the installed packages: tens of ms), which
        records a failure in the run's errors as it always has, never failing ``init()``."""
        later = self._capture_code if what == "code" else self._capture_env
        try:
            if what == "code":
                from labbook.capture.code import captured_code

                found = captured_code(entry)
                op = None if found is None else ("set", "code", self._code_summary(*found))
            else:
                from labbook.capture.env import cached_env

                env = cached_env(entry)
                op = None if env is None else ("set", "env", env)
        except Exception:  # noqa: BLE001 - the thread tries again and reports what fails
            op = None
        if op is None:
            return [later]
        ops.append(op)
        return []

    def _code_summary(self, summary: dict[str, Any], diff: str | None) -> dict[str, Any]:
        """The code summary to record, the uncommitted diff written beside it."""
        if diff:
            self._folder.code.mkdir(parents=True, exist_ok=True)
            (self._folder.code / "uncommitted.diff").write_text(diff)
            summary["diff_path"] = "code/uncommitted.diff"
        return summary

    def _capture_code(self, entry: str | None = None) -> None:
        from labbook.capture.code import capture_code

        summary = self._code_summary(*capture_code(entry=entry))
        self._record["code"] = summary
        self._writer.update_run(("set", "code", summary))

    def _capture_env(self, entry: str | None = None) -> None:
        from labbook.capture.env import capture_env

        env = capture_env(entry=entry)
        self._record["env"] = env
        self._writer.update_run(("set", "env", env))

    def _start_capture(self, track_logs: bool, collect_resources: bool | None,
                       liveness_recorded: bool = False) -> None:
        """Logs, resources and liveness capture: see labbook.capture.session."""
        from labbook.capture.session import start_capture

        start_capture(self._parts, track_logs=track_logs, collect_resources=collect_resources,
                      liveness_recorded=liveness_recorded)

    # -- process hooks (see labbook.tracking.hooks) ---------------------------------------

    def _failed_by_exception(self, exc_type: type[BaseException], exc: BaseException,
                             tb: TracebackType | None) -> None:
        if not self._ended:
            self.log_failed(reason="ExitHandler",
                            message="".join(traceback.format_exception(exc_type, exc, tb)))

    def _stopped_by_sigterm(self) -> None:
        self.log_stopped(reason="SIGTERM", message="The process received SIGTERM")

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.uuid} {self.status}>"


class NoOpRun(Run):
    """What ``Run(...)`` and ``init()`` return under ``LABBOOK_NO_OP=1`` (or ``POLYAXON_NO_OP``):
    a ``Run`` whose public methods do nothing and return None, and whose ``uuid``, ``path`` and
    ``project`` are None. A name ``Run`` does not have raises ``AttributeError``, as on a ``Run``."""

    uuid = None  # type: ignore[assignment]
    project = None  # type: ignore[assignment]

    def __new__(cls, *args: Any, **kwargs: Any) -> NoOpRun:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattribute__(self, name: str) -> Any:
        if name[0] != "_":
            if name in _PUBLIC_METHODS:
                return _nothing
            if name in _PUBLIC_PROPERTIES:  # run_uuid, path, name, status, inputs, settings ...
                return None
        return object.__getattribute__(self, name)

    def _log_metrics(self, *args: Any) -> None:  # what tracking.log_metrics calls: nothing too
        return None

    def __enter__(self) -> NoOpRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __repr__(self) -> str:
        return "<NoOpRun>"


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


# Run's public methods and properties: on a NoOpRun each does nothing, or is None.
_PUBLIC_METHODS = frozenset(
    name for name in dir(Run) if not name.startswith("_") and callable(getattr(Run, name, None))
)
_PUBLIC_PROPERTIES = frozenset(
    name for name in dir(Run) if not name.startswith("_") and isinstance(getattr(Run, name, None), property)
)


class _Discarded(list[Any]):
    """The metric buffer of a rank whose metrics are not kept: it stays empty."""

    def append(self, record: Any) -> None:
        return None

    def extend(self, records: Any) -> None:
        return None


# The active run of this process, set by tracking.init(); Run.end() clears it.
_active: list[Run] = []


def files_written(run: Run) -> dict[Path, int | None]:
    """The files ``run``'s writer writes in its run folder (``RunWriter.files_written``): what a
    copy of the folder kept elsewhere (a server's object store) needs after the run's flush."""
    return run._writer.files_written()


def _forget_active(run: Run) -> None:
    if _active and _active[0] is run:
        _active.clear()


def _iso_time(argument: str, value: Any) -> str:
    """A UTC ISO 8601 time for a datetime or ISO string (naive means local time, as elsewhere)."""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{argument}={value!r} is not a datetime or an ISO 8601 time. Pass e.g. "
                          "'2026-11-23T10:00:00+00:00'.") from None
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _one_of(function: str, first: str, a: Any, second: str, b: Any) -> Any:
    if a is not None and b is not None:
        raise RunStateError(f"{function}() got both {first}= and {second}=; pass one of them.")
    return a if a is not None else b


def _type_error(function: str, name: str, argument: str, value: Any, expected: str) -> LabbookError:
    return InvalidTypeError(
        f"{function}({name!r}): {argument} must be {expected}, got {type(value).__name__} ({value!r:.60})."
    )


def _storable_text(function: str, name: str, argument: str, text: str) -> str:
    """``text`` if it can be written as UTF-8: a lone surrogate (``'\\ud800'``) cannot."""
    at = lone_surrogate(text)
    if at is not None:
        raise InvalidValueError(
            f"{function}({name!r}): {argument} holds {text[at]!r} at index {at}, a lone "
            "surrogate that UTF-8 cannot store. Decode the text properly (e.g. "
            "bytes.decode('utf-8', errors='replace'))."
        )
    return text
