"""Import TensorBoard log folders: ``labbook import tensorboard LOGDIR`` or ``import_tensorboard``.

::

    from labbook.importers.tensorboard import import_tensorboard

    report = import_tensorboard("runs/", project="mnist")

Every folder under ``LOGDIR`` that holds event files (``*tfevents*``) is one of TensorBoard's
runs and becomes one labbook run, named by its path under ``LOGDIR`` (the folder's own name when
``LOGDIR`` itself holds the files). Its event files are read in order with TensorBoard's record
reader: scalars → metrics, histograms → histograms, images → images, text → text, each with its
step and wall time; the hparams plugin's hyperparameters → inputs (``labbook.media.tensorboard``
has the full mapping). The run starts at its first event's wall time and ends ``succeeded`` at
its last. Audio, PR curves, graphs, meshes, profiles and other plugins' data are not carried over
and are counted per run in the report. A folder imported before (same absolute path) is skipped.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from labbook.importers.common import ImportReport, Progress, SourceRun, as_path, import_runs
from labbook.media.optional import need
from labbook.media.tensorboard import SummaryConverter, event_files, read_events, run_folders

SOURCE = "tensorboard"


def source_runs(logdir: str | os.PathLike[str]) -> list[SourceRun]:
    """One ``SourceRun`` per folder of ``logdir`` that holds event files."""
    need("tensorboard.compat.proto.event_pb2", "Importing TensorBoard logs")
    root = as_path(logdir, "LOGDIR")
    runs = []
    for folder in run_folders(root):
        rel = folder.relative_to(root).as_posix()
        name = folder.name if rel == "." else rel
        source_run = SourceRun(run_id=str(folder), label=name, write=_no_write, name=name,
                               started_at=_first_wall_time(event_files(folder)),
                               extra={"logdir": str(root), "path": rel})
        source_run.write = _writer(folder, source_run)
        runs.append(source_run)
    return runs


def import_tensorboard(logdir: str | os.PathLike[str], project: str | None = None, *,
                       home: str | os.PathLike[str] | None = None,
                       progress: Progress | None = None) -> ImportReport:
    """Import every run folder of ``logdir`` into ``project`` (see the module docstring)."""
    runs = source_runs(logdir)
    return import_runs(SOURCE, str(as_path(logdir, "LOGDIR")), runs, project, home=home, progress=progress)


def _no_write(run: Any, notes: list[str]) -> None:
    return None


def _writer(folder: Path, source_run: SourceRun):
    def write(run: Any, notes: list[str]) -> None:
        converter = SummaryConverter(run)
        for path in event_files(folder):
            for event in read_events(path):
                converter.event(event)
        if converter.last_wall_time is not None:  # the run ends at its last event
            source_run.finished_at = _time(converter.last_wall_time)
        notes.extend(f"{kind} ({count})" for kind, count in sorted(converter.skipped.items()))

    return write


def _first_wall_time(files: list[Path]) -> datetime | None:
    """When the run began: the first event's wall time (the writer's own first record)."""
    for path in files:
        for event in read_events(path):
            if event.wall_time:
                return _time(event.wall_time)
    return None


def _time(seconds: float) -> datetime:
    # Rounded to the microsecond as event timestamps are (writer.format.to_epoch_us), so a run's
    # start equals its first point's time exactly; fromtimestamp() may round the other way.
    return datetime.fromtimestamp(0, tz=timezone.utc) + timedelta(microseconds=round(seconds * 1e6))
