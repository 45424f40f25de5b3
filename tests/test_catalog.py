"""The catalog: migrations, indexing, rebuild, and the search language, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

import labbook
from labbook.catalog import schema
from labbook.catalog.catalog import Catalog
from labbook.catalog.indexer import finish_pending, rebuild
from labbook.catalog.query import parse_field, parse_filter
from labbook.config import Settings
from labbook.errors import CatalogError, QueryError
from labbook.tracking.run import Run
from tests.conftest import require

POSTGRES_URL = os.environ.get("LABBOOK_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def fresh_postgres():
    """A fresh PostgreSQL database (its URL), dropped afterwards."""
    try:
        admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means the server is not there
        require(False, f"PostgreSQL is not reachable at {POSTGRES_URL} ({type(error).__name__}); "
                       "set LABBOOK_TEST_POSTGRES_URL")
    name = f"labbook_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, home, monkeypatch):
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'catalog.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("LABBOOK_CATALOG_URL", url)
    return url


def _log_runs(catalog_url: str):
    specs = [
        ("a", {"lr": 0.001, "opt": "adam", "layers": 2}, {"loss": [0.9, 0.4, 0.3]}, ["best", "v1"]),
        ("b", {"lr": 0.01, "opt": "sgd", "layers": 4}, {"loss": [0.8, 0.6]}, ["v1"]),
        ("c", {"lr": 0.1, "opt": "adam"}, {"loss": [1.0, 0.95], "val acc": [0.5]}, []),
        ("d", {"lr": 0.005, "opt": "sgd", "layers": 2}, {"loss": [0.7, float("nan")]}, ["v2"]),
    ]
    uuids = {}
    for name, params, metrics, tags in specs:
        run = Run(project="search", name=name, tags=tags, install_handlers=False, track_env=False,
                  track_code=False)
        run.log_inputs(**params)
        for metric, values in metrics.items():
            for step, value in enumerate(values):
                run.log_metric(metric, value, step=step)
        if name == "c":
            run.log_failed(reason="test")
        else:
            run.end()
        uuids[name] = run.uuid
    finish_pending()  # the ended runs' last rows, due an index interval after end(), written now
    return uuids


def _names(rows):
    return [r.name for r in rows]


@pytest.mark.parametrize("filter_, expected", [
    pytest.param("params.lr < 0.01", ["a", "d"], id="param-lt"),
    pytest.param("params.lr < 0.01 and metrics.loss < 0.5", ["a"], id="and"),
    pytest.param("params.opt = 'sgd' or metrics.loss.min <= 0.3", ["a", "b", "d"], id="or-min"),
    pytest.param("(params.opt = 'adam' or params.layers = 4) and not status = 'failed'", ["a", "b"],
                 id="parens-not"),
    pytest.param("params.layers is null", ["c"], id="missing-param"),
    pytest.param("'v1' in tags", ["a", "b"], id="in-tags"),
    pytest.param("tags = 'best'", ["a"], id="tag-eq"),
    pytest.param("status in ('failed', 'stopped')", ["c"], id="status-in"),
    pytest.param("metrics.`val acc` >= 0.5", ["c"], id="quoted-metric"),
    pytest.param("metrics.loss.count = 3", ["a"], id="count"),
    pytest.param("name like 'a%'", ["a"], id="like"),
    pytest.param("params.opt != 'adam'", ["b", "d"], id="neq"),
    pytest.param("created_at > '2000-01-01T00:00:00Z' and params.lr >= 0.1", ["c"], id="time"),
    pytest.param("metrics.loss.last_step = 1 and params.lr > 0.004", ["b", "c", "d"], id="last-step"),
])
def test_search_filters(catalog_url, filter_, expected):
    _log_runs(catalog_url)
    rows = labbook.search_runs("search", filter=filter_, order_by=["name"])
    assert _names(rows) == expected


def test_search_order_and_paging(catalog_url):
    _log_runs(catalog_url)
    # d's last loss is NaN: not a number to compare, so it sorts last
    assert _names(labbook.search_runs("search", order_by=["metrics.loss"])) == ["a", "b", "c", "d"]
    # the minimum skips NaN: a 0.3, b 0.6, c 0.95, d 0.7
    assert _names(labbook.search_runs("search", order_by=["-metrics.loss.min"])) == ["c", "d", "b", "a"]
    assert _names(labbook.search_runs("search", order_by=["params.lr desc"])) == ["c", "b", "d", "a"]
    assert _names(labbook.search_runs("search", order_by=["params.opt", "-params.lr"], limit=2,
                                      offset=1)) == ["a", "b"]


def test_summaries_in_the_catalog(catalog_url):
    uuids = _log_runs(catalog_url)
    row = {r.name: r for r in labbook.search_runs("search")}
    assert row["a"].summaries["loss"]["last"] == pytest.approx(0.3)
    assert row["a"].summaries["loss"]["min"] == pytest.approx(0.3)
    assert row["a"].summaries["loss"]["max"] == pytest.approx(0.9)
    assert row["a"].summaries["loss"]["count"] == 3 and row["a"].summaries["loss"]["last_step"] == 2
    assert row["d"].summaries["loss"]["last"] is None  # NaN is kept in the files, not as a number
    assert row["c"].status == "failed" and row["a"].tags == ["best", "v1"]
    assert row["a"].uuid == uuids["a"]


def _snapshot(url: str):
    engine = sa.create_engine(url)
    tables = {}
    with engine.connect() as conn:
        for table in (schema.runs, schema.params, schema.metrics, schema.tags, schema.projects):
            # run_file_mtime is bookkeeping: a row made from a file just written keeps it a little
            # lower (labbook.catalog.indexer.RACY_SECONDS), one indexed later keeps it as it is
            columns = [c for c in table.c if (c.name not in ("created_at",) or table is not schema.projects)
                       and c.name != "run_file_mtime"]
            rows = conn.execute(sa.select(*columns)).all()
            tables[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    engine.dispose()
    return tables


def test_rebuild_reaches_the_same_state(catalog_url, home):
    _log_runs(catalog_url)
    before = _snapshot(catalog_url)
    settings = Settings.load({}, home=home)
    for run_file in Path(settings.artifacts_root).glob("*/*/run.json"):  # written a while ago: not
        written = run_file.stat().st_mtime - 60                          # re-read by an incremental pass
        os.utime(run_file, (written, written))
    with contextlib.closing(Catalog(catalog_url)) as catalog:
        result = rebuild(catalog, Path(settings.artifacts_root), full=True, settings=settings)
    assert result == {"found": 4, "indexed": 4, "failed": 0, "removed": 0, "damaged": []}
    assert _snapshot(catalog_url) == before
    # incremental: nothing changed, nothing re-read; a deleted folder leaves the index
    with contextlib.closing(Catalog(catalog_url)) as catalog:
        assert rebuild(catalog, Path(settings.artifacts_root), full=False, settings=settings)["indexed"] == 0


def test_rebuild_from_copied_folders(home, tmp_path, monkeypatch):
    """Copying run folders to another home and indexing there loses nothing."""
    import shutil

    uuids = _log_runs(f"sqlite:///{home / 'catalog.db'}")
    monkeypatch.setenv("LABBOOK_HOME", str(tmp_path / "other" / ".labbook"))
    other = tmp_path / "other" / ".labbook"
    shutil.copytree(home / "artifacts", other / "artifacts")
    with contextlib.closing(Catalog(f"sqlite:///{other / 'catalog.db'}")) as catalog:
        result = rebuild(catalog, other / "artifacts", settings=Settings.load({}, home=other))
    assert result["indexed"] == 4
    rows = labbook.search_runs("search", filter="params.lr < 0.01", order_by=["name"], home=other)
    assert _names(rows) == ["a", "d"]
    assert labbook.get_run(uuids["a"], home=other).metric("loss").values.tolist() == [0.9, 0.4, 0.3]


def test_migrations_head_matches_the_schema(home):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from labbook.catalog.catalog import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == schema.HEAD_REVISION
    catalog = Catalog(f"sqlite:///{home / 'c.db'}")
    assert catalog.revision() == schema.HEAD_REVISION
    # the migrated database has exactly the tables and columns the schema module declares
    inspector = sa.inspect(catalog.engine)
    for table in schema.metadata.sorted_tables:
        assert {c["name"] for c in inspector.get_columns(table.name)} == {c.name for c in table.c}


def test_old_revision_is_refused_without_auto_migrate(home):
    url = f"sqlite:///{home / 'old.db'}"
    catalog = Catalog(url)
    with catalog.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(CatalogError, match="Run 'labbook db upgrade'"):
        Catalog(url, auto_migrate=False)


@pytest.mark.parametrize("text, message", [
    pytest.param("params.lr <", "ends too early", id="truncated"),
    pytest.param("bogus = 1", "Unknown field 'bogus'", id="unknown-field"),
    pytest.param("params.lr ~ 1", "Cannot read the filter", id="bad-op"),
    pytest.param("params.lr < 1 extra", "Unexpected", id="trailing"),
    pytest.param("created_at > 'yesterday'", "not an ISO date", id="bad-date"),
    pytest.param("tags < 'x'", "tags supports", id="tags-op"),
])
def test_bad_filters_say_what_is_wrong(home, text, message):
    home.mkdir(parents=True)  # an existing, empty home: reads never create one
    with pytest.raises(QueryError, match=message):
        labbook.search_runs("x", filter=text)


@given(st.text(min_size=1, max_size=30).filter(lambda s: "`" not in s))
def test_quoted_metric_names_parse_back(name):
    field = parse_field(f"metrics.`{name}`.max")
    assert (field.table, field.key, field.attr) == ("metrics", name, "max")


@given(st.recursive(
    st.sampled_from(["params.lr < 0.1", "metrics.loss >= 2", "status = 'running'", "'x' in tags"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join),
        inner.map(lambda e: f"({e})"), inner.map(lambda e: f"not {e}")),
    max_leaves=6))
def test_composed_filters_parse(text):
    assert parse_filter(text) is not None


def test_catalog_lag_is_bounded_by_the_run_end(run_factory):
    run = run_factory(name="live")
    run.log_metric("m", 1.0)
    run.sync_events_summaries()  # a live run is indexed in the background; this does it now
    assert _names(labbook.search_runs("test")) == ["live"]
    assert labbook.search_runs("test")[0].summaries["m"]["count"] == 1
    run.log_metric("m", 2.0)
    run.end()  # indexes synchronously: an ended run is always current
    assert labbook.search_runs("test")[0].summaries["m"]["count"] == 2


def test_processes_opening_a_fresh_catalog_at_once_migrate_it_once(home, tmp_path):
    import subprocess

    from tests.conftest import PYTHON, python_env

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = f"from labbook.catalog.catalog import Catalog; print(Catalog({url!r}).revision())"
    children = [subprocess.Popen([PYTHON, "-c", code], env=python_env(home), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {schema.HEAD_REVISION}


def test_the_logging_side_creates_the_schema_alembic_creates(tmp_path):
    """A catalog created by a logging process (sqlite_index, no Alembic) is the one Alembic's
    migrations create: the same statements in sqlite_master, the same revision."""
    import sqlite3

    from labbook.catalog.sqlite_index import HEAD_REVISION, SqliteIndex

    assert HEAD_REVISION == schema.HEAD_REVISION
    migrated = Catalog(f"sqlite:///{tmp_path / 'alembic.db'}")
    migrated.close()
    SqliteIndex(tmp_path / "fast.db").close()

    def schema_of(path):
        connection = sqlite3.connect(path)
        try:
            return ([row[0] for row in connection.execute(
                        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")],
                    connection.execute("SELECT version_num FROM alembic_version").fetchall())
        finally:
            connection.close()

    assert schema_of(tmp_path / "fast.db") == schema_of(tmp_path / "alembic.db")
    assert Catalog(f"sqlite:///{tmp_path / 'fast.db'}").revision() == schema.HEAD_REVISION


def test_logging_and_reading_processes_creating_one_catalog_at_once_agree(home, tmp_path):
    """Logging processes build a new catalog aside and link it into place whole; with readers
    (Alembic) creating the same file at the same moment, every process opens one catalog at the
    newest revision, in WAL mode, and nothing built aside is left behind."""
    import sqlite3
    import subprocess

    from tests.conftest import PYTHON, python_env

    path = tmp_path / "fresh.db"
    logging_side = (f"from labbook.catalog.sqlite_index import SqliteIndex, HEAD_REVISION; "
                    f"SqliteIndex({str(path)!r}).close(); print(HEAD_REVISION)")
    reading_side = f"from labbook.catalog.catalog import Catalog; print(Catalog({'sqlite:///' + str(path)!r}).revision())"
    children = [subprocess.Popen([PYTHON, "-c", code], env=python_env(home), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
                for code in (logging_side, logging_side, reading_side, logging_side)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0, 0], outputs
    assert {out.strip() for out, _ in outputs} == {schema.HEAD_REVISION}
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.HEAD_REVISION,)]
    finally:
        connection.close()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_a_catalog_file_left_empty_is_created_in_place(tmp_path):
    """A file another process made empty (it connected first) is not replaced: the schema goes
    into it, so that process's connection sees the catalog too."""
    import sqlite3

    from labbook.catalog.sqlite_index import SqliteIndex

    path = tmp_path / "catalog.db"
    first = sqlite3.connect(path)  # makes the empty file
    first.execute("PRAGMA journal_mode=WAL")
    SqliteIndex(path).close()
    try:
        assert first.execute("SELECT version_num FROM alembic_version").fetchall() == [(schema.HEAD_REVISION,)]
    finally:
        first.close()


def test_rows_written_without_sqlalchemy_read_back_alike(home, tmp_path):
    """The same record indexed by SqliteIndex and through SQLAlchemy's tables gives the same rows."""
    from labbook.catalog.sqlite_index import SqliteIndex

    record = {"uuid": "a" * 32, "project": "p", "name": "n", "description": None, "status": "running",
              "created_at": "2026-01-02T03:04:05.000006+00:00", "started_at": "2026-01-02T03:04:05+01:00",
              "finished_at": None, "duration": None, "heartbeat_at": "2026-01-02T03:04:06.5+00:00",
              "env": {"user": "u", "hostname": "h"}, "code": {"commit": "c"}, "path": "/x",
              "inputs": {"lr": 0.1, "opt": "adam", "flag": True, "nested": {"a": [1, None]}, "none": None},
              "outputs": {"acc": float("nan")}, "meta": {"m": 1}, "tags": ["t1", "t2", "t1"],
              "metrics": {"loss": {"last": "nan", "min": 0.1, "max": 2.0, "count": 3, "last_step": 7,
                                   "last_timestamp": "2026-01-02T03:04:07.000001+00:00"}}}
    fast = SqliteIndex(tmp_path / "fast.db")
    fast.upsert_run(record, run_file_mtime=12.5)
    fast.close()
    slow = Catalog(f"sqlite:///{tmp_path / 'slow.db'}")
    slow._sqlite_index = None
    slow.path, path = None, slow.path  # the SQLAlchemy branch of upsert_run, as for PostgreSQL
    slow.upsert_run(record, run_file_mtime=12.5)
    slow.path = path
    slow.close()
    tables = ("runs", "params", "metrics", "tags")
    fast_rows = _snapshot(f"sqlite:///{tmp_path / 'fast.db'}")
    slow_rows = _snapshot(f"sqlite:///{tmp_path / 'slow.db'}")
    assert {t: fast_rows[t] for t in tables} == {t: slow_rows[t] for t in tables}
    import sqlite3

    def stored(path):  # the text as stored, not only as read back
        connection = sqlite3.connect(path)
        try:
            return {t: sorted(map(repr, connection.execute(f"SELECT * FROM {t}"))) for t in tables}
        finally:
            connection.close()

    assert stored(tmp_path / "fast.db") == stored(tmp_path / "slow.db")


def _index_runs_for_ordering(url: str) -> list[dict]:
    """60 runs in two projects: metric values with many ties, NaN (stored as NULL), runs
    without the metric, and a second metric; written as the indexer writes them."""
    catalog = Catalog(url)
    records = []
    for i in range(60):
        metrics = {}
        if i % 7 != 3:  # some runs never logged "loss"
            last = float("nan") if i % 11 == 5 else (i * 7 % 6) / 10
            metrics["loss"] = {"last": last, "min": (i % 4) / 10, "max": 1 + (i % 3) / 10, "count": 1 + i % 5,
                               "last_step": None if i % 9 == 0 else i % 6,
                               "last_timestamp": "2026-01-02T03:04:05+00:00"}
        if i % 2:
            metrics["acc"] = {"last": (i % 10) / 10, "min": 0.0, "max": 1.0, "count": 2, "last_step": 1,
                              "last_timestamp": "2026-01-02T03:04:05+00:00"}
        record = {"uuid": f"{(i * 37) % 101:032x}", "project": "order" if i % 6 else "other", "name": f"r{i}",
                  "status": "finished", "created_at": f"2026-01-02T03:{i // 60:02d}:{i % 60:02d}+00:00",
                  "path": f"/nowhere/{i}", "inputs": {"lr": (0.001, 0.01, 0.1)[i % 3], "opt": ("adam", "sgd")[i % 2]},
                  "outputs": {}, "meta": {}, "tags": ["even"] if i % 2 == 0 else [], "metrics": metrics}
        catalog.upsert_run(record)
        records.append(record)
    catalog.close()
    return records


@pytest.mark.parametrize("filter_", [
    None,
    "params.lr < 0.05",
    "metrics.loss < 0.35",
    "metrics.loss >= 0.2 and params.opt = 'adam'",
    "metrics.loss.min <= 0.2 and metrics.loss.min > 0",
    "metrics.loss < 0.3 or params.lr > 0.05",
    "not metrics.loss > 0.3",
    "metrics.acc > 0.2 and 'even' in tags",
    "metrics.loss is null",
    "(metrics.loss = 0.2 and params.lr = 0.01)",
])
def test_ordering_by_a_metric_walks_its_index_with_the_same_rows(catalog_url, monkeypatch, filter_):
    """Ordered by one metric summary, a search reads that summary's index (runs with a value, then
    those without); it gives the rows, order and sort keys of the general query (join all, sort
    all), page by page through the keyset, in both directions, with ties and NULLs."""
    import labbook.catalog.catalog as catalog_module
    from labbook.catalog import query

    records = _index_runs_for_ordering(catalog_url)
    catalog = Catalog(catalog_url)
    walked: list[str] = []
    real = catalog_module.Catalog._search_by_metric

    def counted(*args, **kwargs):
        walked.append("index")
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog_module.Catalog, "_search_by_metric", staticmethod(counted))
    for order in ("metrics.loss", "-metrics.loss", "-metrics.loss.min", "metrics.loss.max",
                  "-metrics.loss.last_step", "metrics.acc"):
        field, descending = query.metric_order([order])
        general = catalog.search("order", filter_, [order], limit=None, offset=0, after=None)
        with monkeypatch.context() as patched:  # the general query: join every run, sort them all
            patched.setattr(catalog_module, "metric_order", lambda _order_by: None)
            expected = catalog.search("order", filter_, [order], limit=None)
        assert [r["uuid"] for r in general] == [r["uuid"] for r in expected], order
        assert [r["sort_key"] for r in general] == [r["sort_key"] for r in expected], order
        assert [(r["uuid"], sorted(r["metrics"]), r["tags"]) for r in general] == \
               [(r["uuid"], sorted(r["metrics"]), r["tags"]) for r in expected]
        # an independent oracle for the order: values first (ties by uuid), then runs without one
        values = {r["uuid"]: (r["metrics"].get(field.key) or {}).get(field.attr) for r in records}
        values = {u: None if isinstance(v, float) and math.isnan(v) else v for u, v in values.items()}
        present = sorted((u for u in [r["uuid"] for r in expected] if values[u] is not None),
                         key=lambda u: (-values[u] if descending else values[u], u))
        absent = sorted(u for u in [r["uuid"] for r in expected] if values[u] is None)
        assert [r["uuid"] for r in expected] == present + absent, order
        # keyset pages of 4 (ties and the step from values to NULLs fall inside and across pages),
        # the walk reading every value it needs, or held to a window of 8 (the rest: general query)
        for window in (catalog_module.WALK_WINDOW, 3):
            monkeypatch.setattr(catalog_module, "WALK_WINDOW", window)
            paged, after = [], None
            while True:
                page = catalog.search("order", filter_, [order], limit=4, after=after)
                paged += page
                if len(page) < 4:
                    break
                after = orjson.loads(orjson.dumps(page[-1]["sort_key"]))  # as a cursor carries it
            assert [r["uuid"] for r in paged] == [r["uuid"] for r in expected], (order, window)
            assert [r["sort_key"] for r in paged] == [r["sort_key"] for r in expected], (order, window)
    assert walked, "the index walk was never taken"
    catalog.close()


@pytest.mark.parametrize("filter_, order", [
    pytest.param("params.lr < 0.05 and metrics.loss < 0.5", "-metrics.loss", id="param-and-metric"),
    pytest.param(None, "metrics.loss.min", id="unfiltered"),
    pytest.param("'even' in tags", "-metrics.loss.max", id="tag"),
])
def test_postgresql_first_page_run_again_is_the_general_querys_rows(postgres_url, monkeypatch, filter_, order):
    """On PostgreSQL a first page ordered by a metric runs the statement built for the same
    arguments before: every value of every row (summaries by name, tags, sort keys) equals the
    general query's, the first time and from the kept statement, and a page that is short now
    (its runs deleted) is read again the whole way."""
    import labbook.catalog.catalog as catalog_module

    monkeypatch.setenv("LABBOOK_CATALOG_URL", postgres_url)
    _index_runs_for_ordering(postgres_url)
    catalog = Catalog(postgres_url)

    def general(limit):
        with monkeypatch.context() as patched:  # join every run, sort them all
            patched.setattr(catalog_module, "metric_order", lambda _order_by: None)
            return catalog.search("order", filter_, [order], limit=limit)

    try:
        expected = general(4)
        first = catalog.search("order", filter_, [order], limit=4)
        assert len(catalog._first_pages) == 1, "the full first page's statement is kept"
        again = catalog.search("order", filter_, [order], limit=4)
        assert len(expected) == 4
        assert repr(first) == repr(expected) and repr(again) == repr(expected)  # repr: NaN equals NaN
        for row in again:
            assert [m[1] for m in row["metrics"]] == sorted(m[1] for m in row["metrics"])
            assert row["tags"] == sorted(row["tags"])
        everything = general(None)  # kept: the first run and the last two, far down the index (or without a value)
        catalog.delete_runs([r["uuid"] for r in everything[1:-2]])
        short = catalog.search("order", filter_, [order], limit=4)
        assert repr(short) == repr(general(4)) and len(short) == 3
    finally:
        catalog.close()


def test_postgresql_kept_first_page_follows_the_crash_cutoff_of_a_status_filter(postgres_url, monkeypatch):
    """A filter on status compares heartbeats with the crash cutoff, which moves with the clock:
    the kept first page is not reused under another cutoff."""
    from datetime import datetime, timezone

    monkeypatch.setenv("LABBOOK_CATALOG_URL", postgres_url)
    catalog = Catalog(postgres_url)
    try:
        for i in range(3):
            catalog.upsert_run({
                "uuid": f"{i + 1:032x}", "project": "p", "name": f"r{i}", "status": "running",
                "created_at": "2026-01-02T03:00:00+00:00", "heartbeat_at": f"2026-01-02T03:0{i}:00+00:00",
                "path": f"/nowhere/{i}", "inputs": {}, "outputs": {}, "meta": {}, "tags": [],
                "metrics": {"loss": {"last": i / 10, "min": 0.0, "max": 1.0, "count": 1, "last_step": 0,
                                     "last_timestamp": "2026-01-02T03:04:05+00:00"}}})

        def crashed(cutoff_minute):
            cutoff = datetime(2026, 1, 2, 3, cutoff_minute, 30, tzinfo=timezone.utc)
            rows = catalog.search("p", "status = 'crashed'", ["-metrics.loss"], limit=1, crashed_before=cutoff)
            return [r["name"] for r in rows]

        assert crashed(2) == ["r2"]  # every heartbeat is older: all crashed, the page is full
        assert crashed(1) == ["r1"]
        assert crashed(0) == ["r0"]
        assert catalog.search("p", "status = 'crashed'", ["-metrics.loss"], limit=1,
                              crashed_before=datetime(2026, 1, 2, 2, 0, tzinfo=timezone.utc)) == []
    finally:
        catalog.close()


@pytest.mark.parametrize("filter_, order_by", [
    (None, None),
    (None, ["name"]),
    ("params.lr < 0.05 and 'even' in tags", ["-params.lr", "started_at"]),
    ("metrics.loss < 0.35", ["metrics.loss"]),
    ("created_at > '2026-01-02T03:00:20+00:00'", ["-metrics.acc"]),
    ("status = 'finished'", ["-metrics.loss", "-created_at"]),
])
def test_sqlite_reads_with_sqlite3_the_rows_sqlalchemy_reads(home, monkeypatch, filter_, order_by):
    """On SQLite, ``search`` reads the page and its runs' summaries and tags with sqlite3 itself
    (``_fetch_sqlite``, ``page_summaries``): the same rows, values and value types, sort keys
    (times converted to datetimes) and keyset pages as SQLAlchemy's reading of the same
    statements (the PostgreSQL path, taken here by a catalog without a file path)."""
    import labbook.catalog.catalog as catalog_module

    url = f"sqlite:///{home / 'catalog.db'}"
    _index_runs_for_ordering(url)
    catalog = Catalog(url)
    read: list[str] = []
    real = catalog_module.page_summaries

    def counted(*args, **kwargs):
        read.append("sqlite3")
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog_module, "page_summaries", counted)

    def typed(rows):
        return [{key: ([(type(v), v) for v in value] if key == "sort_key" else
                       [tuple(m) for m in value] if key == "metrics" else (type(value), value))
                 for key, value in row.items()} for row in rows]

    def pages(size):
        found, after = [], None
        while True:
            page = catalog.search("order", filter_, order_by, limit=size, after=after)
            found += page
            if len(page) < size:
                return found
            after = page[-1]["sort_key"]

    fast = catalog.search("order", filter_, order_by, limit=None)
    fast_pages = pages(7)
    assert read, "the sqlite3 reading was never taken"
    with monkeypatch.context() as patched:
        patched.setattr(catalog, "path", None)
        slow = catalog.search("order", filter_, order_by, limit=None)
        slow_pages = pages(7)
    assert fast and typed(fast) == typed(slow)
    assert typed(fast_pages) == typed(slow_pages) == typed(slow)
    assert any(row["metrics"] for row in fast) and any(row["tags"] for row in fast)
    catalog.close()


def test_ordering_walk_refuses_a_cursor_of_another_ordering(catalog_url):
    _index_runs_for_ordering(catalog_url)
    catalog = Catalog(catalog_url)
    with pytest.raises(QueryError, match="cursor holds 3 sort values"):
        catalog.search("order", None, ["-metrics.loss"], limit=5, after=[0.5, None, "x"])
    catalog.close()


def test_top_level_conjuncts_of_a_filter():
    from labbook.catalog.query import parse_filter_parts

    _, parts = parse_filter_parts("metrics.loss < 0.5 and (params.lr = 1 and metrics.acc > 2) and not name = 'x'")
    assert [(p.field and p.field.key, p.op, p.value) for p in parts] == \
           [("loss", "<", 0.5), ("lr", "=", 1), ("acc", ">", 2), (None, "", None)]
    _, parts = parse_filter_parts("metrics.loss < 0.5 or metrics.acc > 2")
    assert [p.field for p in parts] == [None]


FORK_WHILE_LOCKED = """
import os, sys, threading, time
from labbook.catalog import sqlite_index
from labbook.catalog.catalog import Catalog

held, release = threading.Event(), threading.Event()

def hold():
    with sqlite_index._PROCESS_LOCK:   # a logging process's indexer thread, migrating at the fork
        held.set()
        release.wait(30)

threading.Thread(target=hold, daemon=True).start()
assert held.wait(10)
pid = os.fork()
if pid == 0:
    catalog = Catalog(sys.argv[1])
    with catalog._migration_lock():
        pass
    catalog.close()
    os._exit(0)
release.set()
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        sys.exit(os.waitstatus_to_exitcode(status))
    time.sleep(0.05)
os.kill(pid, 9)
sys.exit("the forked child is still waiting for the process lock its parent's thread held at the fork")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_a_forked_child_migrates_though_a_parent_thread_held_the_lock_at_the_fork(postgres_url, tmp_path):
    script = tmp_path / "fork_while_locked.py"
    script.write_text(FORK_WHILE_LOCKED)
    result = subprocess.run([sys.executable, str(script), postgres_url], capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(Path(labbook.__file__).parents[1])})
    assert result.returncode == 0, result.stderr


def test_postgresql_walks_a_metric_from_its_greatest_value_in_the_pages_order(postgres_url):
    """A search ordered by ``-metrics.<name>`` walks the summaries as ``last DESC, run_uuid``
    (ties by run id, as the keyset pages): PostgreSQL reads them in that order from
    ix_metrics_name_last_desc_run (revision 0008) and stops at the page's end, sorting nothing."""
    plan = _sortless_plan(postgres_url, "SELECT run_uuid, last FROM metrics WHERE name = 'loss' AND last IS NOT NULL "
                                        "AND last < 0.5 ORDER BY last DESC, run_uuid ASC LIMIT 101")
    assert "ix_metrics_name_last_desc_run" in plan and "Sort" not in plan, plan


def _sortless_plan(url: str, statement: str) -> str:
    """PostgreSQL's plan for ``statement`` on a catalog at the head revision, sorting discouraged
    (``enable_sort = off``): an index that gives the order is then used if there is one."""
    catalog = Catalog(url)
    try:
        with catalog.engine.connect() as conn:
            conn.execute(sa.text("SET enable_sort = off"))
            return "\n".join(conn.execute(sa.text(f"EXPLAIN {statement}")).scalars())
    finally:
        catalog.close()


def test_postgresql_lists_a_projects_newest_runs_from_an_index(postgres_url):
    """The runs table's default order (newest first, the run id breaking ties, as the search
    writes it) is read from ix_runs_project_newest on PostgreSQL, not by sorting every run."""
    plan = _sortless_plan(postgres_url, "SELECT uuid FROM runs WHERE project = 'p' "
                                        "ORDER BY created_at DESC NULLS LAST, uuid ASC NULLS LAST LIMIT 50")
    assert "ix_runs_project_newest" in plan and "Sort" not in plan, plan


def test_nested_params_filter_sort_and_are_named_by_leaf(catalog_url):
    """``params.optimizer.name`` reads inside a nested param (as the dashboard's columns and
    ``group_by`` do): filters, ordering (paged by cursor) and the names listed for columns."""
    import orjson

    optimizers = {"n0": {"name": "sgd", "momentum": 0.9}, "n1": {"name": "adam", "momentum": 0.5},
                  "n2": {"name": "sgd", "momentum": 0.1, "betas": {"b1": 0.8}}, "n3": "plain", "n4": None}
    for name, optimizer in optimizers.items():
        with Run(project="nested", name=name, install_handlers=False, track_env=False, track_code=False) as run:
            run.log_inputs(**({"optimizer": optimizer} if optimizer is not None else {}), lr=0.1)
    assert _names(labbook.search_runs("nested", filter="params.optimizer.name = 'sgd'", order_by=["name"])) == ["n0", "n2"]
    assert _names(labbook.search_runs("nested", filter="params.`optimizer.name` = 'adam'")) == ["n1"]
    assert _names(labbook.search_runs("nested", filter="params.optimizer.momentum > 0.3", order_by=["name"])) == ["n0", "n1"]
    assert _names(labbook.search_runs("nested", filter="params.optimizer.betas.b1 >= 0.8")) == ["n2"]
    assert _names(labbook.search_runs("nested", filter="params.optimizer.momentum is null", order_by=["name"])) == ["n3", "n4"]
    # a leaf holding text in some runs and numbers in others compares as either, never failing the query
    assert _names(labbook.search_runs("nested", filter="params.optimizer.name > 1")) == []
    by_momentum = ["n2", "n1", "n0", "n3", "n4"]
    assert _names(labbook.search_runs("nested", order_by=["params.optimizer.momentum", "name"])) == by_momentum
    assert _names(labbook.search_runs("nested", order_by=["-params.optimizer.name", "name"])) == ["n0", "n2", "n1", "n3", "n4"]
    with contextlib.closing(Catalog(catalog_url)) as catalog:
        paged, after = [], None
        while True:
            page = catalog.search("nested", None, ["params.optimizer.momentum", "name"], limit=2, after=after)
            paged += [r["name"] for r in page]
            if len(page) < 2:
                break
            after = orjson.loads(orjson.dumps(page[-1]["sort_key"]))
        assert paged == by_momentum
        names, _ = catalog.name_counts("params", "nested")
        # the dict's leaves in its place (of every shape the newest runs give it), never the dict itself
        assert names[0] == ("lr", 5)
        assert sorted(names[1:]) == [("optimizer.betas.b1", 4), ("optimizer.momentum", 4), ("optimizer.name", 4)]
