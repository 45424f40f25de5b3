"""What every importer shares: finding earlier imports, opening the imported run, the report.

An importer lists its source runs as ``SourceRun``s and gives each a ``write(run, notes)`` that
logs its data; ``import_runs`` does the rest the same way for every source:

* a source run already imported (``meta.imported_from`` with the same source and run id, found
  through the catalog) is skipped;
* the run is created with the source's start time (``Run(started_at=...)``), no capture of this
  process (code, environment, logs, resources), and ends with the source's status at the
  source's end time (``log_status(..., last_transition_time=...)``);
* ``meta.imported_from`` is written last, so an import that stops half-way leaves a run marked
  ``failed`` (reason ``ImportFailed``) that the next import does not mistake for a finished one.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from labbook.errors import LabbookError


@dataclass
class SourceRun:
    """One run of the source, described enough to import it."""

    run_id: str  # the source's id for it, unique within ``uri``
    label: str  # how reports name it, e.g. "mnist/3f2c…"
    write: Callable[[Any, list[str]], None]  # logs the data on the new run; appends notes
    project: str | None = None  # where it goes unless the import names one project for all
    name: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    status: str = "succeeded"
    extra: dict[str, Any] = field(default_factory=dict)  # more of meta.imported_from
    skip_reason: str | None = None  # set: not imported now, reported why


@dataclass
class ImportReport:
    """What an import did: created runs, skipped ones, and what was not carried over."""

    source: str
    uri: str
    created: dict[str, str] = field(default_factory=dict)  # source run id -> labbook uuid
    existing: dict[str, str] = field(default_factory=dict)  # already imported earlier
    skipped: dict[str, str] = field(default_factory=dict)  # source label -> why not imported
    notes: dict[str, list[str]] = field(default_factory=dict)  # source label -> not carried over
    failed: dict[str, str] = field(default_factory=dict)  # source label -> the error, the partial run

    def summary(self) -> Counter[str]:
        """How many runs had each note, for the closing summary."""
        return Counter(note for notes in self.notes.values() for note in dict.fromkeys(notes))


def quote(value: str) -> str:
    """``value`` as a string literal of the search language."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def find_imported(source: str, run_id: str, home: str | os.PathLike[str] | None = None) -> str | None:
    """The uuid of the labbook run imported earlier from ``source``'s run ``run_id``, if any."""
    from labbook.config import Settings
    from labbook.errors import NotFoundError
    from labbook.workspace import search_runs

    try:
        Settings.load({}, home=home).require_home()
    except NotFoundError:
        return None  # a home that does not exist yet holds no earlier import; importing creates it
    rows = search_runs(
        filter=f"meta.imported_from.source = {quote(source)} and meta.imported_from.run_id = {quote(run_id)}",
        limit=1, home=home,
    )
    return rows[0].uuid if rows else None


Progress = Callable[[str], None]  # called with each source run's label as its import starts


def import_runs(source: str, uri: str, runs: Iterable[SourceRun], project: str | None = None, *,
                home: str | os.PathLike[str] | None = None, progress: Progress | None = None) -> ImportReport:
    """Import each of ``runs`` into ``project`` (default: the run's own, else the home's default
    project); see the module docstring."""
    from labbook.tracking.run import Run

    report = ImportReport(source, uri)
    for source_run in runs:
        if progress is not None:
            progress(source_run.label)
        if source_run.skip_reason:
            report.skipped[source_run.label] = source_run.skip_reason
            continue
        existing = find_imported(source, source_run.run_id, home)
        if existing is not None:
            report.existing[source_run.run_id] = existing
            continue
        notes: list[str] = []
        run = Run(project=project or source_run.project, name=source_run.name, description=source_run.description,
                  tags=source_run.tags or None, home=home, is_new=True, track_code=False,
                  track_env=False, track_logs=False, collect_resources=False, install_handlers=False,
                  started_at=source_run.started_at)
        try:
            source_run.write(run, notes)
        except BaseException as error:  # noqa: BLE001 - reported; the other runs are still imported
            message = str(error) if isinstance(error, LabbookError) else f"{type(error).__name__}: {error}"
            run.log_status("failed", reason="ImportFailed", message=message)
            run.end()
            if not isinstance(error, Exception):  # Ctrl-C: stop importing, the run marked failed
                raise
            report.failed[source_run.label] = f"{message} (partial run {run.uuid}, marked failed)"
            continue
        run.log_meta(imported_from={"source": source, "run_id": source_run.run_id, "uri": uri,
                                    **source_run.extra})
        run.log_status(source_run.status, reason=f"Imported from {source}",
                       last_transition_time=source_run.finished_at or source_run.started_at)
        run.end()
        report.created[source_run.run_id] = run.uuid
        if notes:
            report.notes[source_run.label] = notes
    return report


def project_name(text: str) -> str:
    """``text`` made a usable project name: other characters become '-'."""
    import re

    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-._")[:128]
    return name or "imported"


def as_path(value: str | os.PathLike[str], what: str) -> Path:
    path = Path(value).expanduser()
    if not path.exists():
        from labbook.errors import ConfigError

        raise ConfigError(f"{what} {str(value)!r} does not exist (cwd: {Path.cwd()}). Pass an existing folder.")
    return path.absolute()
