"""A run folder's metric tiles (``labbook.store.tiles``): a chart read from them is the chart read
from every point, before and after the series grows, and a stale or damaged tiles file is never
used (the points are read instead)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labbook.errors import EventFileError
from labbook.server.downsample import downsample, downsample_tiled
from labbook.store import format as fmt
from labbook.store import tiles
from labbook.store.events import TiledSeries, read_metric, read_metric_tiled
from labbook.store.layout import RunFolder

RUN = "0123456789abcdef0123456789abcdef"


def write_series(folder: RunFolder, steps, values, append: bool = False) -> Path:
    """A metric file of one writer, as the writer lays it out (header line, then records)."""
    path = folder.series_file("metric", "loss", "0-1-a")
    path.parent.mkdir(parents=True, exist_ok=True)
    times = (np.arange(len(steps)) + 1_700_000_000_000_000).tolist()
    records = fmt.encode_metric_records([int(s) for s in steps], times, [float(v) for v in values])
    with open(path, "ab" if append else "wb") as handle:
        if not append:
            handle.write(fmt.header_bytes("metric", "loss", "0-1-a"))
        handle.write(records)
    return path


def chart(series, points, x_min=None, x_max=None):
    """The chart from every point, as the server made it before tiles."""
    return downsample(np.asarray(series.steps), series.values, points, x_min, x_max, x_sorted=True)


def tiled_read(folder: RunFolder, cache: Path):
    """A fresh reader's series: tiled when a current tiles file is in ``cache``."""
    return read_metric_tiled(folder, "loss", cache)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3000), points=st.integers(2, 300), gaps=st.integers(0, 3),
       offset=st.integers(-10**6, 10**6), x_min=st.one_of(st.none(), st.floats(-2e6, 2e6)),
       x_max=st.one_of(st.none(), st.floats(-2e6, 2e6)), nans=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_a_chart_from_tiles_is_the_chart_from_every_point(tmp_path_factory, n, points, gaps, offset, x_min,
                                                           x_max, nans, seed):
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(0, gaps + 1, n)) + offset
    values = rng.normal(size=n)
    spike = int(rng.integers(0, n))
    values[spike] = 1e9
    if nans:
        values[rng.integers(0, n, size=max(1, n // 10))] = np.nan
        values[spike] = 1e9
    root = tmp_path_factory.mktemp("run")
    folder, cache = RunFolder(root / RUN), root / "cache"
    write_series(folder, steps, values)
    first = tiled_read(folder, cache)  # reads every point, writes the tiles
    assert not isinstance(first, TiledSeries)
    again = tiled_read(folder, cache)
    assert isinstance(again, TiledSeries)
    expected = chart(first, points, x_min, x_max)
    got = downsample_tiled(again.tiled, points, x_min, x_max)
    assert got == expected
    if not got.raw and got.total and (x_min is None or x_min <= steps[spike]) \
            and (x_max is None or steps[spike] <= x_max):
        assert max(v for v in got.max if v is not None) == 1e9  # the spike, at every zoom
    assert np.array_equal(again.values, first.values, equal_nan=True)  # its points, read when asked
    assert np.array_equal(again.steps, first.steps) and np.array_equal(again.timestamps, first.timestamps)


def test_a_million_points_charted_from_tiles_at_every_zoom(tmp_path):
    n = 1_000_000
    steps, values = np.arange(n), 1.0 / (1 + np.arange(n))
    values[654_321] = 1e6
    folder, cache = RunFolder(tmp_path / RUN), tmp_path / "cache"
    write_series(folder, steps, values)
    whole = tiled_read(folder, cache)
    tiled = tiled_read(folder, cache)
    assert isinstance(tiled, TiledSeries) and len(tiled) == n
    for x_min, x_max in ((None, None), (600_000, 700_000), (654_000, 655_000), (654_321, 654_321), (0.5, 654_321.5)):
        got = downsample_tiled(tiled.tiled, 2000, x_min, x_max)
        assert got == chart(whole, 2000, x_min, x_max)
        assert max(got.y if got.raw else got.max) == 1e6
    assert len(tiled.tiled.held.tiles) < n // 64 // 2  # a chart reads the tiles where edges fall, not every tile


def test_a_grown_series_is_read_again_and_its_tiles_remade(tmp_path):
    folder, cache = RunFolder(tmp_path / RUN), tmp_path / "cache"
    path = write_series(folder, np.arange(1000), np.zeros(1000))
    tiled_read(folder, cache)
    assert isinstance(tiled_read(folder, cache), TiledSeries)
    write_series(folder, np.arange(1000, 1500), np.full(500, 7.0), append=True)  # the writer appends
    grown = tiled_read(folder, cache)
    assert not isinstance(grown, TiledSeries) and len(grown) == 1500  # stale tiles: the points are read
    again = tiled_read(folder, cache)
    assert isinstance(again, TiledSeries) and len(again) == 1500
    got = downsample_tiled(again.tiled, 100)
    assert got == chart(read_metric(folder, "loss"), 100) and max(got.max) == 7.0 and got.total == 1500
    assert path.stat().st_size == again.tiled.offset + 1500 * fmt.RECORD_SIZE


def _tiles_file(tmp_path: Path) -> tuple[RunFolder, Path, Path]:
    folder, cache = RunFolder(tmp_path / RUN), tmp_path / "cache"
    values = np.zeros(5000)
    values[4321] = 1e6
    path = write_series(folder, np.arange(5000), values)
    tiled_read(folder, cache)
    target = tiles.tiles_path(cache, RUN, path)
    assert target.is_file() and tiles.read_tiles(target, path) is not None
    return folder, path, target


@pytest.mark.parametrize("damage", [
    pytest.param(lambda data: data[:-8], id="cut short"),
    pytest.param(lambda data: data[:-100] + bytes(100), id="arrays zeroed"),
    pytest.param(lambda data: data.replace(b'"tile":64', b'"tile":32'), id="another tile size"),
    pytest.param(lambda data: data.replace(b'"version":1', b'"version":9'), id="a later version"),
    pytest.param(lambda data: b"\xff" + data[1:], id="header damaged"),
    pytest.param(lambda data: b"", id="empty"),
])
def test_a_damaged_tiles_file_is_ignored(tmp_path, damage):
    folder, path, target = _tiles_file(tmp_path)
    data = target.read_bytes()
    target.write_bytes(damage(data))
    assert tiles.read_tiles(target, path) is None
    series = tiled_read(folder, target.parents[2])
    assert not isinstance(series, TiledSeries) and max(series.values) == 1e6  # read from its points


def test_tiles_of_a_replaced_file_are_ignored(tmp_path):
    """Same size, another file (a run folder copied over, a file rewritten): the header or the
    modification time differs, so the tiles do not describe it."""
    folder, path, target = _tiles_file(tmp_path)
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-8:] = np.float64(5.0).tobytes()  # the last value changed, same size
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert tiles.read_tiles(target, path) is None
    path.write_bytes(bytes(data).replace(b'"writer":"0-1-a"', b'"writer":"0-1-b"'))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old time: another header
    assert tiles.read_tiles(target, path) is None


def test_no_tiles_for_records_out_of_step_order(tmp_path):
    folder, cache = RunFolder(tmp_path / RUN), tmp_path / "cache"
    write_series(folder, [3, 1, 2], [1.0, 2.0, 3.0])
    for _ in range(2):
        series = tiled_read(folder, cache)
        assert not isinstance(series, TiledSeries) and list(series.steps) == [1, 2, 3]
    assert not list(cache.rglob("*.lbt"))


def test_a_torn_last_record_is_not_a_point(tmp_path):
    folder, cache = RunFolder(tmp_path / RUN), tmp_path / "cache"
    path = write_series(folder, np.arange(200), np.arange(200.0))
    with open(path, "ab") as handle:
        handle.write(b"\x01" * 10)  # a write in progress
    tiled_read(folder, cache)
    series = tiled_read(folder, cache)
    assert isinstance(series, TiledSeries) and len(series) == 200
    assert downsample_tiled(series.tiled, 50) == chart(read_metric(folder, "loss"), 50)


def test_a_server_process_charts_a_series_read_before_from_its_tiles(home):
    """The first read of a series (in any server process) keeps its tiles in the home's cache; a
    later process answers its chart from them, the same answer, at every zoom and axis."""
    from labbook.config import Settings
    from labbook.server import views
    from labbook.server.data import FULL, ServerData
    from labbook.tracking import Run
    from tests.server_helpers import run_kwargs

    with Run(project="tiles", **run_kwargs()) as run:
        for step in range(20_000):
            run.log_metric("loss", 1.0 / (1 + step) if step != 12_345 else 1e6, step=step)
    queries = [("step", None, None), ("step", 12_000.5, 13_000), ("step", 12_300, 12_400), ("wall", None, None)]
    answers = []
    for _ in range(2):  # two processes' worth: each its own ServerData
        data = ServerData(Settings.load({}))
        try:
            series = data.metric_series(FULL, run.uuid, "loss")
            answers.append([views.series_model(run.uuid, series, axis, 500, low, high).model_dump()
                            for axis, low, high in queries])
            kinds = type(series).__name__
        finally:
            data.close()
    assert kinds == "TiledSeries" and list((home / "cache" / "tiles" / run.uuid).rglob("*.lbt"))
    assert answers[0] == answers[1]
    for answer in answers[1]:
        assert answer["source"] == "run_folder"
        assert max(answer["y"] if answer["raw"] else answer["max"]) == 1e6


def test_a_file_replaced_under_a_tiled_series_is_not_read_as_its_records(tmp_path):
    folder, path, target = _tiles_file(tmp_path)
    series = tiled_read(folder, target.parents[2])
    assert isinstance(series, TiledSeries)
    other = path.with_name("other.tmp")
    other.write_bytes(path.read_bytes()[:-24 * 100] + bytes(24 * 100))  # same length, other records
    os.replace(other, path)
    with pytest.raises(EventFileError, match="replaced"):
        downsample_tiled(series.tiled, 100)
