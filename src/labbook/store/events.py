"""Reading a run's series back from its folder: the readers beside the writers' format.

::

    from labbook.store.events import read_metric
    series = read_metric(RunFolder(path), "loss")   # numpy arrays: steps, values, timestamps

``read_metric`` merges every writer's file of one metric (by step, then time); ``read_events``
reads the JSON-lines kinds. Damaged records are left out and counted (``skipped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from labbook._optional import need
from labbook.errors import NotFoundError
from labbook.store import format as fmt
from labbook.store.layout import RunFolder


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

    def __init__(self, name: str, steps: Any, values: Any, timestamps: Any, ranks: Any = None,
                 skipped: int = 0) -> None:
        self.name = name
        self.steps = steps
        self.values = values
        self.timestamps = timestamps
        self.ranks = ranks
        self.skipped = skipped

    def __len__(self) -> int:
        return len(self.values)

    def to_pandas(self) -> Any:
        """A DataFrame with columns step, value, timestamp (and rank when several wrote)."""
        pd = need("pandas", "MetricSeries.to_pandas()")

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
        ranks.append(np.broadcast_to(np.int32(file_rank), len(records)))  # a view: no array of 1M ranks
    if not parts:
        raise NotFoundError(f"Metric {name!r} has no points from rank {rank}.")
    return merge_metric_parts(name, parts, ranks, skipped)


def merge_metric_parts(name: str, parts: list[Any], ranks: list[Any], skipped: int = 0) -> MetricSeries:
    """One series from the records of each of its files (``ranks``: one array per part, the
    rank of each record): sorted by step, then time, stably, whichever writers logged them."""
    import numpy as np

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


def _in_step_order(steps: Any, records: Any) -> bool:
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
