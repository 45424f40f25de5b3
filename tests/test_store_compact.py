"""Metric series held as chunks in an object store: compaction into Parquet points and min/max
tiles gives the same answers as the raw chunks (and as a run folder); the worker role claims
each job once; the server reads compacted tiles when they are current."""

from __future__ import annotations

import subprocess
import threading
import uuid

import numpy as np
import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labbook import tokens
from labbook.catalog import schema
from labbook.catalog.catalog import Catalog
from labbook.catalog.chunks import ChunkedFiles
from labbook.runs import read_metric
from labbook.server import compact
from labbook.server.downsample import downsample, downsample_tiled
from labbook.server.worker import Worker, enqueue_compaction
from labbook.store.layout import RunFolder
from labbook.store.names import encode_name
from labbook.writer import format as fmt
from tests.conftest import PYTHON, python_env
from tests.server_helpers import ServerProcess, run_kwargs
from tests.test_catalog import postgres_url  # noqa: F401 - a fixture: a fresh PostgreSQL database


def lbm_file(name: str, writer: str, rank: int, steps, values, times=None) -> bytes:
    header = orjson.dumps({"format": "labbook.events", "version": 1, "kind": "metric", "name": name,
                           "writer": writer, "rank": rank, "pid": 1}) + b"\n"
    times = list(range(len(steps))) if times is None else times
    return header + fmt.encode_metric_records(list(steps), [1_700_000_000_000_000 + t for t in times], list(values))


def put_file(files: ChunkedFiles, run: str, path: str, data: bytes, cuts: list[int]) -> None:
    """Append ``data`` in pieces cut at ``cuts`` (what a syncer sends as the file grows)."""
    at = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]:
        files.append(run, path, at, data[at:cut])
        at = cut


def same_series(a, b) -> None:
    assert a.name == b.name and len(a) == len(b) and a.skipped == b.skipped
    assert np.array_equal(a.steps, b.steps)
    assert np.array_equal(a.values, b.values, equal_nan=True)
    assert np.array_equal(a.timestamps, b.timestamps)
    assert (a.ranks is None) == (b.ranks is None)
    if a.ranks is not None:
        assert np.array_equal(a.ranks, b.ranks)


@pytest.fixture
def local(tmp_path):
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", auto_migrate=True)
    yield ChunkedFiles(str(tmp_path / "store"), catalog)
    catalog.close()


values_strategy = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writers=st.lists(st.lists(st.tuples(st.integers(-5, 400), values_strategy), min_size=1, max_size=300),
                        min_size=1, max_size=3),
       cut=st.integers(1, 500), points=st.integers(1, 60), window=st.tuples(st.integers(-10, 400), st.integers(0, 400)))
def test_compaction_gives_the_same_series_and_charts_as_the_chunks(local, tmp_path, writers, cut, points, window):
    run, name = uuid.uuid4().hex, "train/loss"
    folder = RunFolder(tmp_path / "folder" / run)
    for rank, records in enumerate(writers):
        path = f"events/metric/{encode_name(name)}/{rank}-1-abcdef.lbm"
        data = lbm_file(name, f"{rank}-1-abcdef", rank, [s for s, _ in records], [v for _, v in records],
                        times=[(i * 7919) % 1000 for i in range(len(records))])
        put_file(local, run, path, data, list(range(cut, len(data), cut)))
        (folder.path / path).parent.mkdir(parents=True, exist_ok=True)
        (folder.path / path).write_bytes(data)

    raw = compact.read_raw(local, run, name)
    same_series(raw, read_metric(folder, name))  # the chunks hold exactly the run folder's series
    assert compact.read_compacted(local, run, name) is None  # nothing compacted yet
    compact.compact_series(local, run, name)
    compacted = compact.read_series(local, run, name)
    assert compacted.compacted and compacted.tiles is not None
    same_series(compacted, raw)
    x_min, x_max = min(window), max(window)
    for axis_min, axis_max in ((None, None), (x_min, x_max)):
        x = raw.steps.astype(np.float64)
        before = downsample(x, raw.values, points, axis_min, axis_max)
        after = downsample(compacted.steps.astype(np.float64), compacted.values, points, axis_min, axis_max,
                           tiles=compacted.tiles)
        assert after == before


def as_format_1(store: ChunkedFiles, run: str, name: str) -> None:
    """Make the series' compaction what the previous version wrote (format 1): the same Parquet
    points and tiles, no records object, no format in the catalog's row."""
    T = schema.series_compactions
    where = (T.c.run_uuid == run, T.c.kind == "metric", T.c.name == name)
    with store.engine.begin() as conn:
        covers = dict(conn.execute(sa.select(T.c.covers).where(*where)).scalar())
        store.delete_object(covers.pop("records_object"))
        assert covers.pop("format") == 2
        conn.execute(T.update().where(*where).values(covers=covers))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 3000), writers=st.integers(1, 2), points=st.integers(2, 300), gaps=st.integers(0, 3),
       x_min=st.one_of(st.none(), st.floats(-100, 7000)), x_max=st.one_of(st.none(), st.floats(-100, 7000)),
       nans=st.booleans(), old=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_a_compacted_chart_from_tiles_and_edge_records_is_the_chart_from_every_point(
        local, n, writers, points, gaps, x_min, x_max, nans, old, seed):
    from labbook.server.views import series_model

    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(0, gaps + 1, n))
    values = rng.normal(size=n)
    if nans:
        values[rng.integers(0, n, size=max(1, n // 10))] = np.nan
    spike = int(rng.integers(0, n))
    values[spike] = 1e9
    run, name = uuid.uuid4().hex, "loss"
    for rank in range(writers):  # ranks interleave: the compacted series is their merge
        data = lbm_file(name, f"{rank}-1-abcdef", rank, steps[rank::writers], values[rank::writers],
                        times=list(range(rank, n, writers)))
        put_file(local, run, f"events/metric/{name}/{rank}-1-abcdef.lbm", data, [len(data) // 2])
    compact.compact_series(local, run, name)
    if old:
        as_format_1(local, run, name)  # a store compacted by the previous version charts the same
    series = compact.read_series(local, run, name)
    raw = compact.read_raw(local, run, name)
    assert series.compacted and (getattr(series, "tiled", None) is None) == old
    got = series_model(run, series, "step", points, x_min, x_max)
    expected = downsample(raw.steps, raw.values, points, x_min, x_max, x_sorted=True)
    assert (got.raw, got.total, got.x, got.y, got.x_last, got.first, got.min, got.max, got.last, got.count) == \
        (expected.raw, expected.total, expected.x, expected.y, expected.x_last, expected.first, expected.min,
         expected.max, expected.last, expected.count)
    assert got.source == "compacted"
    if not old:
        assert series._whole is None  # charted from tiles and edge records: the Parquet points not decoded
    same_series(series, raw)  # and its points, decoded when asked, are the chunks' points


def test_a_compacted_million_point_chart_reads_the_edge_tiles_only(local):
    run, name, n = uuid.uuid4().hex, "loss", 1_000_000
    steps = np.arange(n)
    values = np.where(steps == 654_321, 1e6, 1.0 / (1 + steps))
    data = lbm_file(name, "0-1-abcdef", 0, steps, values)
    put_file(local, run, f"events/metric/{name}/0-1-abcdef.lbm", data, list(range(0, len(data), 4_000_000)))
    record = compact.compact_series(local, run, name)
    assert local.fs.size(record["covers"]["records_object"]) == 16 * n
    series = compact.read_series(local, run, name)
    for x_min, x_max in ((None, None), (600_000, 700_000), (654_000, 655_000), (0.5, 654_321.5)):
        got = downsample_tiled(series.tiled, 2000, x_min, x_max)
        assert got == downsample(steps, values, 2000, x_min, x_max, x_sorted=True)
        assert max(got.y if got.raw else got.max) == 1e6
    assert len(series.tiled.held.tiles) < n // 64 // 2 and series._whole is None
    again = compact.compact_series(local, run, name)  # a new generation: every old object goes
    assert not local.fs.exists(record["covers"]["records_object"]) and local.fs.exists(again["covers"]["records_object"])


def test_a_series_that_grew_after_compaction_is_read_from_its_chunks_until_compacted_again(local):
    run, name = uuid.uuid4().hex, "loss"
    path = f"events/metric/{name}/0-1-abcdef.lbm"
    data = lbm_file(name, "0-1-abcdef", 0, range(100_000), np.sin(np.arange(100_000.0)))
    local.append(run, path, 0, data[:1_000_024])
    first = compact.compact_series(local, run, name)
    whole = (1_000_024 - data.index(b"\n") - 1) // 24  # a torn last record is not part of the series
    assert compact.read_series(local, run, name).compacted and len(compact.read_series(local, run, name)) == whole
    local.append(run, path, 1_000_024, data[1_000_024:])
    grown = compact.read_series(local, run, name)
    assert not grown.compacted and len(grown) == 100_000  # the stale compaction is not used
    second = compact.compact_series(local, run, name)
    again = compact.read_series(local, run, name)
    assert again.compacted and len(again) == 100_000 and again.tiles.min.shape == (1563,)
    same_series(again, grown)
    assert not local.fs.exists(first["points_object"]) and local.fs.exists(second["points_object"])
    assert compact.metric_names(local.files(run)) == [name]


def test_compaction_on_s3_and_postgresql(s3_bucket, postgres_url):  # noqa: F811 - fixtures
    catalog = Catalog(postgres_url, auto_migrate=True)
    store = ChunkedFiles(s3_bucket, catalog)
    run = uuid.uuid4().hex
    steps = np.arange(200_000)
    values = np.where(steps == 123_456, 1e6, np.cos(steps / 1000.0))
    for rank in (0, 1):
        data = lbm_file("acc", f"{rank}-1-abcdef", rank, steps[rank::2], values[rank::2])
        put_file(store, run, f"events/metric/acc/{rank}-1-abcdef.lbm", data, list(range(0, len(data), 300_000)))
    raw = compact.read_raw(store, run, "acc")
    record = compact.compact_series(store, run, "acc")
    assert record["points_object"].startswith(s3_bucket[len("s3://"):] + "/compacted/" + run)
    compacted = compact.read_series(store, run, "acc")
    assert compacted.compacted and compacted.ranks is not None
    same_series(compacted, raw)
    chart = downsample(compacted.steps.astype(float), compacted.values, 2000, tiles=compacted.tiles)
    assert max(chart.max) == 1e6 and chart == downsample(raw.steps.astype(float), raw.values, 2000)
    fresh = compact.read_series(store, run, "acc")  # its chart from tiles and ranged reads of the records
    for x_min, x_max in ((None, None), (100_000, 150_000), (123_000, 124_000)):
        assert downsample_tiled(fresh.tiled, 2000, x_min, x_max) == downsample(raw.steps, raw.values, 2000, x_min,
                                                                              x_max, x_sorted=True)
    assert fresh._whole is None
    catalog.close()


def _store_with_series(store: ChunkedFiles, runs: int, names: int) -> list[str]:
    made = []
    for _ in range(runs):
        run = uuid.uuid4().hex
        for index in range(names):
            data = lbm_file(f"m{index}", "0-1-abcdef", 0, range(5000), np.arange(5000.0) * index)
            store.append(run, f"events/metric/m{index}/0-1-abcdef.lbm", 0, data)
        assert enqueue_compaction(store, run) == names
        assert enqueue_compaction(store, run) == 0  # already pending: not queued twice
        made.append(run)
    return made


def _jobs(engine) -> list:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(schema.jobs).order_by(schema.jobs.c.id)))


def test_two_worker_processes_run_each_job_once(s3_bucket, postgres_url, home):  # noqa: F811 - fixtures
    catalog = Catalog(postgres_url, auto_migrate=True)
    store = ChunkedFiles(s3_bucket, catalog)
    runs = _store_with_series(store, runs=6, names=4)
    env = python_env(home, LABBOOK_CATALOG_URL=postgres_url, LABBOOK_STORE=s3_bucket)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        env[key] = __import__("os").environ[key]
    workers = [subprocess.Popen([PYTHON, "-m", "labbook.cli.main", "server", "--role", "worker", "--once",
                                 "--log-level", "warning"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=240) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    ran = [[int(line.split()[0]) for line in out.splitlines() if line.strip()] for out, _ in outputs]
    jobs = _jobs(catalog.engine)
    assert len(jobs) == 24 and sorted(ran[0] + ran[1]) == [j.id for j in jobs]  # every job, none twice
    assert {(j.state, j.attempts) for j in jobs} == {("done", 1)}
    assert {j.claimed_by for j in jobs if j.id in ran[0]}.isdisjoint({j.claimed_by for j in jobs if j.id in ran[1]})
    for run in runs:
        for index in range(4):
            assert compact.read_series(store, run, f"m{index}").compacted
    catalog.close()


def test_four_workers_racing_on_postgresql_claim_each_job_once(s3_bucket, postgres_url):  # noqa: F811
    catalog = Catalog(postgres_url, auto_migrate=True)
    store = ChunkedFiles(s3_bucket, catalog)
    _store_with_series(store, runs=5, names=4)
    ran: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def work(index: int) -> None:
        worker = Worker(ChunkedFiles(s3_bucket, catalog), worker_id=f"w{index}")
        start.wait()
        ran[index] = [job.id for job in worker.run_until_idle()]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    everything = [job for mine in ran for job in mine]
    jobs = _jobs(catalog.engine)
    assert sorted(everything) == [j.id for j in jobs] and len(jobs) == 20
    assert {(j.state, j.attempts) for j in jobs} == {("done", 1)}
    assert sum(1 for mine in ran if mine) >= 2  # they really ran side by side
    catalog.close()


def test_a_failing_job_is_retried_then_left_failed_with_its_error(local):
    run = uuid.uuid4().hex
    enqueue_compaction(local, run, ["missing"])
    worker = Worker(local)
    assert len(worker.run_until_idle()) == 3  # three attempts
    (job,) = _jobs(local.engine)
    assert job.state == "failed" and job.attempts == 3 and "has no metric 'missing'" in job.error


def test_the_worker_needs_a_store(home):
    done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", "--role", "worker", "--once"],
                          env=python_env(home), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "LABBOOK_STORE" in done.stderr


def server_store_series(home, tmp_path):
    """(run, store root, store, catalog, read token, chart queries): a run in the home's catalog whose
    300,000-point metric 'loss' (a spike at step 222,222) only the store holds, as chunks."""
    from labbook.tracking import Run

    with Run(project="big", home=home, **run_kwargs()) as run:  # the catalog row (as ingest makes it)
        run.log_inputs(lr=0.1)
    store_root = str(tmp_path / "objects")
    catalog = Catalog(f"sqlite:///{home / 'catalog.db'}")
    store = ChunkedFiles(store_root, catalog)
    steps = np.arange(300_000)
    data = lbm_file("loss", "0-1-abcdef", 0, steps, np.where(steps == 222_222, 1e6, 1.0))
    put_file(store, run.uuid, "events/metric/loss/0-1-abcdef.lbm", data, list(range(0, len(data), 1_000_000)))
    token, _ = tokens.create_token("test", "read", home=home)
    queries = [{"name": "loss", "points": 2000}, {"name": "loss", "points": 500, "x_min": 200_000, "x_max": 260_000},
               {"name": "loss", "points": 2000, "x_min": 222_000, "x_max": 222_500}]
    return run, store_root, store, catalog, token, queries


def test_the_server_reads_store_series_the_same_before_and_after_compaction(home, tmp_path):
    run, store_root, store, catalog, token, queries = server_store_series(home, tmp_path)
    server = ServerProcess(home, LABBOOK_STORE=store_root)
    try:
        with server.client(token) as api:
            before = [api.get(f"/runs/{run.uuid}/metrics/series", params=q).json() for q in queries]
            assert before[0]["total"] == 300_000 and max(before[0]["max"]) == 1e6
            assert before[2]["raw"] is True and max(before[2]["y"]) == 1e6
            assert compact.read_compacted(store, run.uuid, "loss") is None
            compact.compact_series(store, run.uuid, "loss")
            assert compact.read_compacted(store, run.uuid, "loss").tiles is not None  # what the server reads now
            after = [api.get(f"/runs/{run.uuid}/metrics/series", params=q).json() for q in queries]
            assert {a.pop("source") for a in after} == {"compacted"} and {b.pop("source") for b in before} == {"chunks"}
            assert after == before
    finally:
        server.stop()
    catalog.close()


def test_an_old_catalog_is_refused_by_both_roles_until_db_upgrade(home, postgres_url, tmp_path):  # noqa: F811
    from alembic import command
    from alembic.config import Config

    from labbook.catalog.catalog import _MIGRATIONS

    Catalog(postgres_url, auto_migrate=True).engine.dispose()
    engine = sa.create_engine(postgres_url)
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:  # the catalog as revision 0003 left it (before the object store)
        config.attributes["connection"] = conn
        command.downgrade(config, "0003")
    with engine.connect() as conn:
        assert not schema.STORE_TABLES & set(sa.inspect(conn).get_table_names())
    env = python_env(home, LABBOOK_CATALOG_URL=postgres_url, LABBOOK_STORE=str(tmp_path / "objects"))
    for role in (["--port", "1"], ["--role", "worker", "--once"]):
        done = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", *role], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert f"revision 0003; this version needs {schema.HEAD_REVISION}. Run 'labbook db upgrade'" in done.stderr
    upgrade = subprocess.run([PYTHON, "-m", "labbook.cli.main", "db", "upgrade"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0 and f"revision {schema.HEAD_REVISION}" in upgrade.stdout
    with engine.connect() as conn:
        assert schema.STORE_TABLES <= set(sa.inspect(conn).get_table_names())
    worker = subprocess.run([PYTHON, "-m", "labbook.cli.main", "server", "--role", "worker", "--once"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == 0, worker.stderr
    engine.dispose()

