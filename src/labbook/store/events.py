"""Reading a run's series back from its folder: the readers beside the writers' format.

::

    from labbook.store.events import read_metric
    series = read_metric(RunFolder(path), "loss")   # numpy arrays: steps, values, timestamps

``read_metric`` merges every writer's file of one metric (by step, then time); ``read_resource``
reads a sampled resource series the same way, from the writers' resources files; ``read_events``
reads the JSON-lines kinds. Damaged records are left out and counted (``skipped``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

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
    series_dir = folder.series_dir("metric", name, root)
    files = sorted(series_dir.glob("*.lbm")) if series_dir.is_dir() else []
    if not files:
        known = folder.series_names("metric", root)
        raise NotFoundError(
            f"Run {folder.path.name} has no metric {name!r}. Its metrics: "
            f"{', '.join(repr(n) for n in known[:20]) or 'none'}."
        )
    parts: list[Any] = []
    ranks: list[Any] = []
    skipped = _read_metric_files(files, rank, parts, ranks)
    if not parts:
        raise NotFoundError(f"Metric {name!r} has no points from rank {rank}.")
    return merge_metric_parts(name, parts, ranks, skipped)


def _read_metric_files(files: list[Path], rank: int | None, parts: list[Any], ranks: list[Any]) -> int:
    """Append the records of each ``.lbm`` file written by ``rank`` (any when None) to ``parts``
    and their ranks to ``ranks``; the damaged records left out, counted."""
    skipped = 0
    for path in files:
        file_rank = _header_rank(path)
        if rank is not None and file_rank != rank:
            continue
        records, damaged = fmt.read_metric_records(path)
        skipped += damaged
        parts.append(records)
        ranks.append(_ranks(file_rank, len(records)))
    return skipped


def _ranks(rank: int, count: int) -> Any:
    import numpy as np

    return np.broadcast_to(np.int32(rank), count)  # a view: no array of 1M ranks


def read_resource(folder: RunFolder, name: str, rank: int | None = None) -> MetricSeries:
    """A sampled resource series (``"cpu.percent"``), like ``read_metric``: from every writer's
    resources files (``resources/<writer id>[.<n>].lbr``, one column each per name) and from the
    per-name files of the layout earlier versions wrote (``resources/metric/<name>/*.lbm``)."""
    parts: list[Any] = []
    ranks: list[Any] = []
    found = False
    for header, data in _resource_files(folder):
        columns = header.get("columns") or []
        if name not in columns:
            continue
        found = True
        file_rank = int(header.get("rank", 0))
        if rank is None or file_rank == rank:
            parts.append(fmt.parse_resource_column(data, len(columns), columns.index(name)))
            ranks.append(_ranks(file_rank, len(parts[-1])))
    series_dir = folder.series_dir("metric", name, folder.resources)
    files = sorted(series_dir.glob("*.lbm")) if series_dir.is_dir() else []
    if not found and not files:
        known = resource_names(folder)
        raise NotFoundError(
            f"Run {folder.path.name} has no resource {name!r}. Its resources: "
            f"{', '.join(repr(n) for n in known[:20]) or 'none'}."
        )
    skipped = _read_metric_files(files, rank, parts, ranks)
    if not parts:
        raise NotFoundError(f"Resource {name!r} has no points from rank {rank}.")
    return merge_metric_parts(name, parts, ranks, skipped)


def resource_names(folder: RunFolder) -> list[str]:
    """Names of a run's resource series, from every resources file's columns and the per-name
    folders of the earlier layout, sorted."""
    names = set(folder.series_names("metric", folder.resources))
    for path in folder.resource_files():
        with open(path, "rb") as handle:
            line = handle.readline()
        if line.endswith(b"\n"):  # else a header still being written: no sample yet
            names.update(fmt.parse_header(line, path).get("columns") or [])
    return sorted(names)


def _resource_files(folder: RunFolder) -> Iterator[tuple[dict[str, Any], bytes]]:
    """(header, bytes) of every resources file of ``folder``; a file whose header line is not
    whole yet holds no sample and is passed over, one that is not labbook's (or of a newer
    format version) is an ``EventFileError``."""
    for path in folder.resource_files():
        data = path.read_bytes()
        end = data.find(b"\n") + 1
        if end:
            yield fmt.parse_header(data[:end], path), data


def read_metric_tiled(folder: RunFolder, name: str, cache_root: Path,
                      later: Callable[[Callable[[], Any]], Any] | None = None) -> MetricSeries:
    """``read_metric(folder, name)``, with its tiles kept in ``cache_root`` (``labbook.store.tiles``):
    a series whose tiles are cached and current comes as a ``TiledSeries`` (its points read when
    first used); otherwise it is read whole, and its tiles are written for the next reader, by
    ``later`` when given (a function that runs its argument after this read returns, e.g. on
    another thread), else now."""
    from labbook.store import tiles

    series_dir = folder.series_dir("metric", name)
    files = sorted(series_dir.glob("*.lbm")) if series_dir.is_dir() else []
    if len(files) != 1:  # none (read_metric names the run's metrics), or several writers to merge
        return read_metric(folder, name)
    path = files[0]
    target = tiles.tiles_path(cache_root, folder.path.name, path)
    tiled = tiles.read_tiles(target, path)
    if tiled is not None:
        return TiledSeries(name, tiled)
    try:
        stat = path.stat()
        data = path.read_bytes()
    except OSError:
        return read_metric(folder, name)
    records, skipped = fmt.parse_metric_records(data)
    if not skipped:
        write = partial(tiles.write_tiles, target, path, stat, data, records)
        if later is None:
            write()
        else:
            later(write)
    return _one_file_series(name, path, records, skipped)


def _one_file_series(name: str, path: Path, records: Any, skipped: int) -> MetricSeries:
    return merge_metric_parts(name, [records], [_ranks(_header_rank(path), len(records))], skipped)


class TiledSeries(MetricSeries):
    """A one-file metric series with current tiles (``tiled``, a ``labbook.store.tiles.TiledMetric``):
    its ``steps``, ``values`` and ``timestamps`` are read when first used, as many records as
    the tiles describe (a series that grew since keeps the length it had)."""

    def __init__(self, name: str, tiled: Any) -> None:  # noqa: D107 - the points are read lazily
        self.name = name
        self.tiled = tiled
        self.ranks = None
        self.skipped = 0
        self._whole: MetricSeries | None = None

    def _points(self) -> MetricSeries:
        if self._whole is None:
            tiled = self.tiled
            with open(tiled.source, "rb") as handle:
                data = handle.read(tiled.offset + tiled.count * fmt.RECORD_SIZE)
            records, skipped = fmt.parse_metric_records(data)
            self._whole = _one_file_series(self.name, tiled.source, records, skipped)
        return self._whole

    @property
    def steps(self) -> Any:
        return self._points().steps

    @property
    def values(self) -> Any:
        return self._points().values

    @property
    def timestamps(self) -> Any:
        return self._points().timestamps

    def __len__(self) -> int:
        return self.tiled.count


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
    from labbook.store.tiles import in_step_order

    return in_step_order(steps, records["timestamp"])


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
