"""A metric series held as chunks in an object store, charted from the tiles a reader keeps for
it (``labbook.server.compact.read_chunk_tiles``): the same chart and points as reading every
chunk, for any series and any cut into chunks, after it grows, and never from tiles that no
longer describe the file (a damaged or foreign tiles object, records out of order, a torn last
record, several writers: those are read from their chunks)."""

from __future__ import annotations

import uuid

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labbook.catalog.catalog import Catalog
from labbook.catalog.chunks import ChunkedFiles
from labbook.server import compact
from labbook.server.downsample import downsample, downsample_tiled
from labbook.store import tiles as tiling
from tests.server_helpers import ServerProcess
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database
from tests.test_store_compact import lbm_file, put_file, same_series, server_store_series

NAME, PATH = "loss", "events/metric/loss/0-1-abcdef.lbm"


@pytest.fixture
def local(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", auto_migrate=True)
    yield ChunkedFiles(str(tmp_path / "store"), catalog)
    catalog.close()


def now(task):
    task()


def fields(result) -> tuple:
    return (result.raw, result.total, result.x, result.y, result.x_last, result.first, result.min, result.max,
            result.last, result.count)


def check_charts(series, raw, windows, points: int) -> None:
    """Every window charted from the tiles is the chart from every point of the raw read."""
    for x_min, x_max in windows:
        got = downsample_tiled(series.tiled, points, x_min, x_max)
        expected = downsample(raw.steps, raw.values, points, x_min, x_max, x_sorted=True)
        assert got is not None and fields(got) == fields(expected), (x_min, x_max)


windows = st.lists(st.tuples(st.one_of(st.none(), st.floats(-50, 5000)), st.one_of(st.none(), st.floats(-50, 5000))),
                   min_size=1, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(64, 3000), grow=st.integers(0, 6000), gaps=st.integers(0, 3), cuts=st.integers(0, 30),
       points=st.integers(2, 300), nans=st.booleans(), windows=windows, seed=st.integers(0, 2**32 - 1))
def test_a_chart_from_chunk_tiles_is_the_chart_from_every_chunk(local, n, grow, gaps, cuts, points, nans,
                                                                 windows, seed):
    rng = np.random.default_rng(seed)
    total = n + grow
    steps = np.cumsum(rng.integers(0, gaps + 1, total)) - 10
    values = rng.normal(size=total)
    values[int(rng.integers(0, total))] = 1e9  # a one-point spike
    if nans:
        values[rng.integers(0, total, size=max(1, total // 10))] = np.nan
    times = np.cumsum(rng.integers(0, 2, total)).tolist()  # equal steps keep time order
    data = lbm_file(NAME, "0-1-abcdef", 0, steps, values, times=times)
    first = data.index(b"\n") + 1 + n * 24
    run = uuid.uuid4().hex
    # cut anywhere: mid-record, mid-header, chunks of a few bytes
    put_file(local, run, PATH, data[:first], rng.integers(1, first, cuts).tolist())
    assert type(compact.read_series(local, run, NAME, later=now)) is compact.StoredSeries  # read whole; tiles kept
    if grow:
        put_file(local, run, PATH, data, rng.integers(first, len(data), cuts).tolist() + [first])
    series = compact.read_series(local, run, NAME, later=now)
    raw = compact.read_raw(local, run, NAME)
    assert isinstance(series, compact.TiledStoredSeries) and not series.compacted and len(series) == total
    check_charts(series, raw, windows + [(None, None)], points)
    assert series._whole is None  # charted from tiles and edge records only
    same_series(series, raw)  # its points, read when asked, are the chunks' points


def test_a_million_point_chart_reads_the_tiles_and_edge_records_only(local):
    run, n = uuid.uuid4().hex, 1_000_000
    steps = np.arange(n)
    values = np.where(steps == 654_321, 1e6, 1.0 / (1 + steps))
    data = lbm_file(NAME, "0-1-abcdef", 0, steps, values)
    put_file(local, run, PATH, data, list(range(0, len(data), 64 * 1024)))  # as a syncer sends it
    kept = []
    assert not hasattr(compact.read_series(local, run, NAME, later=kept.append), "tiled")
    assert not local.fs.exists(compact.tiles_key(local, run, PATH))  # kept after the read, by ``later``
    kept.pop()()
    series = compact.read_series(local, run, NAME, later=kept.append)
    assert not kept  # nothing new to keep
    for x_min, x_max in ((None, None), (600_000, 700_000), (654_000, 655_000), (0.5, 654_321.5)):
        got = downsample_tiled(series.tiled, 2000, x_min, x_max)
        assert got == downsample(steps, values, 2000, x_min, x_max, x_sorted=True)
        assert max(got.y if got.raw else got.max) == 1e6
    assert len(series.tiled.held.tiles) < n // 64 // 2 and series._whole is None


def test_a_growing_series_keeps_its_tiles_again_after_many_new_records(local):
    run = uuid.uuid4().hex
    steps = np.arange(20_000)
    data = lbm_file(NAME, "0-1-abcdef", 0, steps, np.sin(steps / 7.0))
    at = data.index(b"\n") + 1 + 1000 * 24
    put_file(local, run, PATH, data[:at], [])
    compact.read_series(local, run, NAME, later=now)
    header = tiling.unpack_tiles(local.get_object(compact.tiles_key(local, run, PATH)))[0]
    assert header["records"] == 960  # whole tiles only
    put_file(local, run, PATH, data[:at + 24 * 100], [at])  # a few more: read from the chunks, tiles unchanged
    assert len(compact.read_series(local, run, NAME, later=now)) == 1100
    assert tiling.unpack_tiles(local.get_object(compact.tiles_key(local, run, PATH)))[0]["records"] == 960
    put_file(local, run, PATH, data, list(range(at + 2400, len(data), 5000)))  # many more: kept again
    series = compact.read_series(local, run, NAME, later=now)
    assert tiling.unpack_tiles(local.get_object(compact.tiles_key(local, run, PATH)))[0]["records"] == 19_968
    again = compact.read_series(local, run, NAME, later=now)
    raw = compact.read_raw(local, run, NAME)
    for read in (series, again):
        check_charts(read, raw, [(None, None), (100, 19_000.5), (5000, 5100)], 500)
        same_series(read, raw)


def _kept(local, run, steps, values, times=None) -> bytes:
    data = lbm_file(NAME, "0-1-abcdef", 0, steps, values, times=times)
    put_file(local, run, PATH, data, [len(data) // 3])
    compact.read_series(local, run, NAME, later=now)
    return data


@pytest.mark.parametrize("steps", [
    pytest.param([5, 3] + list(range(10, 300)), id="steps-out-of-order"),
    pytest.param(list(range(100)) + [50] + list(range(100, 300)), id="a-step-logged-again-later"),
])
def test_a_series_out_of_step_order_keeps_no_tiles(local, steps):
    run = uuid.uuid4().hex
    _kept(local, run, steps, np.arange(float(len(steps))))
    assert not local.fs.exists(compact.tiles_key(local, run, PATH))
    series = compact.read_series(local, run, NAME, later=now)
    assert not hasattr(series, "tiled") and np.all(np.diff(series.steps) >= 0)  # merged by step, as before


def test_new_records_out_of_order_after_the_kept_tiles_are_read_from_the_chunks(local):
    run = uuid.uuid4().hex
    data = _kept(local, run, range(500), np.ones(500))
    late = lbm_file(NAME, "0-1-abcdef", 0, [100, 600], [7.0, 8.0])
    local.append(run, PATH, len(data), late[late.index(b"\n") + 1:])  # a step before the last one
    series = compact.read_series(local, run, NAME, later=now)
    assert not hasattr(series, "tiled")
    assert series.steps.tolist() == sorted(list(range(500)) + [100, 600])


def test_equal_steps_logged_back_in_time_are_read_from_the_chunks(local):
    run = uuid.uuid4().hex
    data = _kept(local, run, [1] * 200, np.arange(200.0), times=list(range(200)))
    late = lbm_file(NAME, "0-1-abcdef", 0, [1], [9.0], times=[50])  # same step, earlier time
    local.append(run, PATH, len(data), late[late.index(b"\n") + 1:])
    series = compact.read_series(local, run, NAME, later=now)
    assert not hasattr(series, "tiled") and series.values.tolist()[50:52] == [50.0, 9.0]  # merged by time


def test_a_torn_last_record_and_damaged_records_are_read_from_the_chunks(local):
    run = uuid.uuid4().hex
    data = _kept(local, run, range(300), np.arange(300.0))
    local.append(run, PATH, len(data), b"\x01" * 10)  # a torn record: the series as the chunks read it
    torn = compact.read_series(local, run, NAME, later=now)
    assert not hasattr(torn, "tiled") and len(torn) == 300
    # a writer that restarted after the torn record: a second header, then records (one damaged record)
    restart = lbm_file(NAME, "0-1-abcdef", 0, [300, 301], [1.0, 2.0])
    local.append(run, PATH, len(data) + 10, restart)
    damaged = compact.read_series(local, run, NAME, later=now)
    same_series(damaged, compact.read_raw(local, run, NAME))
    assert not hasattr(damaged, "tiled") and damaged.skipped == 1 and len(damaged) == 302


def test_several_writers_are_merged_from_their_chunks(local):
    run = uuid.uuid4().hex
    for rank in (0, 1):
        data = lbm_file(NAME, f"{rank}-1-abcdef", rank, range(rank, 400, 2), np.arange(200.0) + rank)
        put_file(local, run, f"events/metric/{NAME}/{rank}-1-abcdef.lbm", data, [len(data) // 2])
    for _ in range(2):
        series = compact.read_series(local, run, NAME, later=now)
        assert not hasattr(series, "tiled") and series.steps.tolist() == list(range(400))
        assert series.ranks.tolist() == [0, 1] * 200
    assert not local.fs.exists(compact.tiles_key(local, run, f"events/metric/{NAME}/0-1-abcdef.lbm"))


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda data: data[:-1] + bytes([data[-1] ^ 1]), id="a-flipped-bit"),
    pytest.param(lambda data: data[:len(data) // 2], id="cut-short"),
    pytest.param(lambda data: b"not tiles\n" + data, id="not-tiles"),
    pytest.param(lambda data: data.replace(b'"chunk":"', b'"chunk":"elsewhere/'), id="another-file's-chunk"),
    pytest.param(lambda data: data.replace(b'"offset":', b'"offset":1'), id="another-offset"),
])
def test_a_damaged_or_foreign_tiles_object_is_never_used(local, spoil):
    run = uuid.uuid4().hex
    steps = np.arange(1000)
    _kept(local, run, steps, np.cos(steps))
    key = compact.tiles_key(local, run, PATH)
    local.put_object(key, spoil(local.get_object(key)))
    series = compact.read_series(local, run, NAME)
    assert not hasattr(series, "tiled")
    same_series(series, compact.read_raw(local, run, NAME))
    assert hasattr(compact.read_series(local, run, NAME), "tiled")  # the read kept them again


def test_tiles_of_a_file_sent_again_are_not_used(local):
    """A run's file deleted from the catalog and sent again (other bytes) has other chunks: the
    tiles kept for the old one name a chunk the new file does not have."""
    from labbook.catalog import schema

    run = uuid.uuid4().hex
    _kept(local, run, range(1000), np.zeros(1000))
    with local.engine.begin() as conn:
        for table in (schema.file_chunks, schema.stream_files):
            conn.execute(table.delete().where(table.c.run_uuid == run))
    steps = np.arange(1000)
    put_file(local, run, PATH, lbm_file(NAME, "0-1-abcdef", 0, steps, steps * 2.0), [500])
    series = compact.read_series(local, run, NAME)
    assert not hasattr(series, "tiled") and series.values[-1] == 1998.0


def test_chunk_tiles_on_s3_and_postgresql(s3_bucket, postgres_url):  # noqa: F811 - fixtures
    catalog = Catalog(postgres_url, auto_migrate=True)
    store, run, steps = ChunkedFiles(s3_bucket, catalog), uuid.uuid4().hex, np.arange(200_000)
    data = lbm_file(NAME, "0-1-abcdef", 0, steps, np.where(steps == 123_456, 1e6, np.cos(steps / 1000.0)))
    grown = len(data) - 24 * 10_000  # tiles kept, then 10,000 more records: a tail read from two chunks
    put_file(store, run, PATH, data[:grown], list(range(0, grown, 300_001)))
    compact.read_series(store, run, NAME, later=now)
    put_file(store, run, PATH, data, [grown + 100_001])
    assert compact.tiles_key(store, run, PATH).startswith(s3_bucket[len("s3://"):] + "/tiles/" + run)
    series = compact.read_series(store, run, NAME, later=now)
    raw = compact.read_raw(store, run, NAME)
    check_charts(series, raw, [(None, None), (100_000, 150_000), (123_000, 124_000), (0.5, 199_000.5)], 2000)
    assert series._whole is None
    same_series(series, raw)
    catalog.close()


def test_the_server_charts_store_chunks_from_their_tiles_the_same(home, tmp_path):
    run, store_root, store, catalog, token, queries = server_store_series(home, tmp_path)
    answers = []
    for _ in range(2):  # the first server reads every chunk and keeps the tiles; the second reads them
        server = ServerProcess(home, LABBOOK_STORE=store_root)
        try:
            with server.client(token) as api:
                answers.append([api.get(f"/runs/{run.uuid}/metrics/series", params=q).json() for q in queries])
        finally:
            server.stop()  # waits for the tiles to be kept
        assert store.fs.exists(compact.tiles_key(store, run.uuid, PATH))
    assert {a["source"] for a in answers[0] + answers[1]} == {"chunks"}
    assert answers[0] == answers[1] and max(answers[1][0]["max"]) == 1e6 and answers[1][2]["raw"] is True
    header = orjson.loads(store.get_object(compact.tiles_key(store, run.uuid, PATH)).split(b"\n")[0])
    assert header["records"] == 300_000 // 64 * 64 and header["source"] == "chunks"
    catalog.close()


def test_tiles_are_kept_as_a_series_grows_and_a_bad_one_is_read_whole_only_as_it_doubles(local, monkeypatch):
    """``keep_growing_tiles`` (what the server runs after appends, off their path): the tiles of a
    growing file follow it; a file whose tiles cannot be kept is not read whole on every call."""
    run = uuid.uuid4().hex
    steps = np.arange(40_000)
    data = lbm_file(NAME, "0-1-abcdef", 0, steps, np.cos(steps / 9.0))
    body = data.index(b"\n") + 1
    memory: dict = {}
    torn = body + 24 * 10_000 + 7  # an append that ends inside a record, as a syncer's 64 KiB pieces do
    put_file(local, run, PATH, data[:torn], list(range(0, torn, 65_536)))
    compact.keep_growing_tiles(local, run, PATH, memory)
    key = compact.tiles_key(local, run, PATH)
    assert tiling.unpack_tiles(local.get_object(key))[0]["records"] == 10_000 // 64 * 64
    put_file(local, run, PATH, data, list(range(torn, len(data), 65_536)))
    compact.keep_growing_tiles(local, run, PATH, memory)  # from the kept tiles and the new records
    assert tiling.unpack_tiles(local.get_object(key))[0]["records"] == 40_000 // 64 * 64
    assert memory == {(run, PATH): (len(data), torn)}  # read whole once only: at first (its whole records)
    series = compact.read_series(local, run, NAME)
    assert isinstance(series, compact.TiledStoredSeries)
    check_charts(series, compact.read_raw(local, run, NAME), [(None, None), (1000, 30_000.5)], 400)

    other, backwards = uuid.uuid4().hex, np.arange(40_000)[::-1].copy()  # out of step order: no tiles
    data = lbm_file(NAME, "0-1-abcdef", 0, backwards, np.ones(40_000))
    reads = []
    original = compact.read_raw
    monkeypatch.setattr(compact, "read_raw", lambda *a, **k: reads.append(1) or original(*a, **k))
    grown = 0
    for end in range(body + 65_536, len(data), 65_536):  # as a syncer sends it, the tiles task after each piece
        put_file(local, other, PATH, data[:end], [grown] if grown else [])
        grown = end
        compact.keep_growing_tiles(local, other, PATH, memory)
    assert not local.fs.exists(compact.tiles_key(local, other, PATH))
    assert len(reads) <= 5  # lengths doubling from 64 KiB to ~1 MiB: not one whole read per piece (14)


def test_a_series_synced_to_a_store_has_its_tiles_before_its_first_chart(home, tmp_path, monkeypatch):
    """The server keeps a growing series' tiles as its appends arrive (on its background thread):
    the first chart of a run just synced reads the tiles, not every chunk."""
    from labbook.tracking import Run
    from tests.server_helpers import ServerProcess, run_kwargs
    from tests.test_sync import sync_cli, write_token

    store_root = str(tmp_path / "objects")
    server_home = tmp_path / "server" / ".labbook"
    server = ServerProcess(server_home, LABBOOK_STORE=store_root)
    try:
        token = write_token(server_home, {"LABBOOK_STORE": store_root})
        with Run(project="tiles", **run_kwargs()) as run:
            for step in range(30_000):
                run.log_metric("loss", 1e6 if step == 12_345 else float(step % 7), step=step)
        sync_cli(run.uuid, home=home, host=server.url, token=token)
    finally:
        server.stop()  # waits for the background thread
    catalog = Catalog(f"sqlite:///{server_home / 'catalog.db'}")
    try:
        store = ChunkedFiles(store_root, catalog)
        (path,) = compact.series_files(store.files(run.uuid), "loss")
        assert store.fs.exists(compact.tiles_key(store, run.uuid, path))
        series = compact.read_chunk_tiles(store, run.uuid, "loss", store.files(run.uuid))
        assert series is not None and len(series) == 30_000
        chart = downsample_tiled(series.tiled, 2000, None, None)
        assert chart is not None and max(chart.max) == 1e6
    finally:
        catalog.close()
