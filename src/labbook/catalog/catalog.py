"""The catalog: a SQL index of projects, runs, params, metric summaries and tags.

It is an index, never the record: every row can be rebuilt from the run folders
(``labbook index --rebuild``). SQLite (the embedded default) runs in WAL mode with a busy timeout,
so several processes can update it at once; PostgreSQL serves teams.

A SQLite catalog in a folder this process cannot write (a read-only mount, a shared home) is
opened read-only and never migrated. A damaged file raises ``CatalogDamagedError`` from any
query, whose message says to run ``labbook index --rebuild``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, overload

import sqlalchemy as sa

from labbook.catalog import schema
from labbook.catalog.query import (
    Conjunct,
    after_key,
    after_value,
    check_after,
    metric_bounds,
    metric_order,
    ordering,
    parse_filter,
    parse_filter_parts,
)
from labbook.catalog.sqlite_index import SqliteIndex, creation_lock, page_summaries, process_lock, run_rows, translate
from labbook.catalog.sqlite_index import utc_naive as _utc
from labbook.errors import CatalogDamagedError, CatalogError

_MIGRATIONS = Path(__file__).parent / "migrations"
_CONVERTED = (sa.JSON, sa.DateTime)  # what search() leaves to RunRow to convert when read
NESTED_SAMPLE = 200  # the newest runs whose nested params' leaves name_counts lists
WALK_WINDOW = 2000  # index entries a search ordered by one metric walks at most (twice the page, if more)
FIRST_PAGES = 256  # first-page statements a PostgreSQL catalog keeps built (Catalog._first_pages)
FIRST_READ_PATIENCE = 30.0  # seconds a first read refused as "database is locked" is asked again


@overload
def as_aware(value: datetime) -> datetime: ...


@overload
def as_aware(value: None) -> None: ...


def as_aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class Catalog:
    """Open (and migrate, for SQLite) the catalog at ``url``."""

    def __init__(self, url: str, *, auto_migrate: bool | None = None) -> None:
        self.url = url
        self._sqlite_index: SqliteIndex | None = None
        self.path = self.sqlite_path(url)
        self.read_only = self.path is not None and self.path.is_file() and not _writable(self.path)
        if self.read_only and self.path is not None:
            self.engine = _read_only_engine(self.path)
        elif self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = sa.create_engine(url, connect_args={"timeout": 60})

            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_connection, _record):  # pragma: no cover - exercised by every test
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.close()
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, json_deserializer=_json_loads)
        sa.event.listen(self.engine, "handle_error", self._translate_error)
        # reads of one statement each, on PostgreSQL without BEGIN and ROLLBACK (two round trips of
        # four): under READ COMMITTED each statement has its own snapshot either way. Same pool.
        self._reads = (self.engine.execution_options(isolation_level="AUTOCOMMIT")
                       if self.path is None else self.engine)
        # PostgreSQL: the statement of a first page ordered by a metric, by its arguments (see search)
        self._first_pages: dict[tuple, sa.Select] = {}
        if auto_migrate is None:  # the embedded SQLite catalog upgrades itself; servers are explicit
            auto_migrate = url.startswith("sqlite")
        self._check_revision(auto_migrate)

    @staticmethod
    def sqlite_path(url: str) -> Path | None:
        """The file of a ``sqlite:///...`` URL (None for other databases and in-memory ones)."""
        if not url.startswith("sqlite:///") or url.endswith(":memory:"):
            return None
        return Path(url[len("sqlite:///"):])

    def check_integrity(self) -> None:
        """Raise ``CatalogDamagedError`` unless SQLite's quick check finds every page sound."""
        if self.path is None:
            return
        with self.engine.connect() as conn:
            problems = [row[0] for row in conn.execute(sa.text("PRAGMA quick_check"))]
        if problems != ["ok"]:
            raise CatalogDamagedError(self.path, "; ".join(problems[:3]))

    def _translate_error(self, context: sa.engine.ExceptionContext) -> None:
        """A damaged or read-only SQLite file: one clear CatalogError, from any query."""
        error = context.original_exception
        if not isinstance(error, sqlite3.DatabaseError):
            return
        translated = translate(error, self.path or self.url)
        if translated is not None:
            raise translated from None

    # -- migrations ------------------------------------------------------------------------

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def upgrade(self) -> None:
        """Bring the schema to the newest revision with Alembic."""
        alembic_logger = logging.getLogger("alembic")
        level = alembic_logger.level
        alembic_logger.setLevel(logging.WARNING)  # its INFO chatter (some at import) must not land in run logs
        try:
            from alembic import command
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            with self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        finally:
            alembic_logger.setLevel(level)

    def _check_revision(self, auto_migrate: bool) -> None:
        if self.path is not None and not self.read_only:
            # A logging process's row writer may be creating this file right now (its schema in
            # one transaction, under the same lock): a read racing that creation is refused at
            # once ("database is locked"), so the revision is read once no creator holds the file.
            with self._migration_lock():
                self._check_revision_locked(auto_migrate, locked=True)
            return
        self._check_revision_locked(auto_migrate, locked=False)

    def _check_revision_locked(self, auto_migrate: bool, locked: bool) -> None:
        try:
            current = self._first_revision()
        except sa.exc.OperationalError as error:
            hint = ""
            if self.path is not None and not os.access(self.path.parent, os.W_OK):
                hint = (f" Its folder {self.path.parent} is read-only and holds no catalog yet: run "
                        "'labbook index' once where it is writable.")
            raise CatalogError(f"Cannot open the catalog at {self.url}: {error.orig}.{hint}") from None
        if current == schema.HEAD_REVISION:
            return
        if self.read_only:
            raise CatalogError(
                f"The catalog {self.path} is at revision {current or 'none'} and this version "
                f"needs {schema.HEAD_REVISION}, but it is read-only here, so it cannot be upgraded. "
                "Run 'labbook db upgrade' where the home is writable, or read it with the labbook "
                "version that wrote it."
            )
        if auto_migrate or current is None:  # an empty database is always safe to create
            if locked:
                self.upgrade()
                return
            with self._migration_lock():
                if self.revision() != schema.HEAD_REVISION:  # another process may have done it
                    self.upgrade()
            return
        raise CatalogError(
            f"Catalog schema at {self.url} is at revision {current or 'none'}; this version needs "
            f"{schema.HEAD_REVISION}. Run 'labbook db upgrade'."
        )

    def _first_revision(self) -> str | None:
        """The revision, read by this catalog's first connection. SQLite can refuse that first read
        at once, without its busy timeout, while another connection (a logging process's row
        writer, on its own thread) sets up the file's write-ahead log: it is asked again for up to
        ``FIRST_READ_PATIENCE`` seconds."""
        deadline = time.monotonic() + FIRST_READ_PATIENCE
        while True:
            try:
                return self.revision()
            except sa.exc.OperationalError as error:
                if self.path is None or "locked" not in str(error.orig) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """One migrator at a time, across threads and processes (several ranks may open a fresh
        home at once): a file lock beside a SQLite file, an advisory lock on PostgreSQL."""
        if self.url.startswith("sqlite:///"):
            with creation_lock(Path(self.url[len("sqlite:///"):])):
                yield
            return
        with process_lock():
            if self.engine.dialect.name == "postgresql":
                with self.engine.connect() as conn:
                    conn.execute(sa.text("SELECT pg_advisory_lock(4242001)"))
                    try:
                        yield
                    finally:
                        conn.execute(sa.text("SELECT pg_advisory_unlock(4242001)"))
            else:
                yield

    # -- writing ---------------------------------------------------------------------------

    def ensure_project(self, conn: sa.Connection, name: str) -> None:
        exists = conn.execute(
            sa.select(schema.projects.c.name).where(schema.projects.c.name == name)
        ).first()
        if not exists:
            conn.execute(
                schema.projects.insert().values(name=name, created_at=_utc(datetime.now(timezone.utc)))
            )

    def upsert_run(self, record: dict[str, Any], run_file_mtime: float | None = None,
                   newer_only: bool = False) -> None:
        """Index one run record (run.json plus merged metric summaries); ``newer_only``: not
        over a row indexed from a newer run.json. A writable SQLite catalog is written by
        ``SqliteIndex``, as the logging processes write it."""
        if self.path is not None and not self.read_only:
            if self._sqlite_index is None:
                self._sqlite_index = SqliteIndex(self.path)
            self._sqlite_index.upsert_run(record, run_file_mtime, newer_only)
            return
        uuid = record["uuid"]
        row, param_rows, metric_rows, tag_rows = run_rows(record, run_file_mtime)
        with self.engine.begin() as conn:
            if newer_only and run_file_mtime is not None:
                indexed = conn.execute(sa.select(schema.runs.c.run_file_mtime)
                                       .where(schema.runs.c.uuid == uuid)).scalar()
                if indexed is not None and indexed > run_file_mtime:
                    return
            self.ensure_project(conn, record["project"])
            updated = conn.execute(
                schema.runs.update().where(schema.runs.c.uuid == uuid).values(**row)
            ).rowcount
            if not updated:
                conn.execute(schema.runs.insert().values(uuid=uuid, **row))
            for table in (schema.params, schema.metrics, schema.tags):
                conn.execute(table.delete().where(table.c.run_uuid == uuid))
            if param_rows:
                conn.execute(schema.params.insert(), param_rows)
            if metric_rows:
                conn.execute(schema.metrics.insert(), metric_rows)
            if tag_rows:
                conn.execute(schema.tags.insert(), tag_rows)

    def delete_runs(self, uuids: Iterable[str]) -> None:
        uuids = list(uuids)
        with self.engine.begin() as conn:
            for table in (schema.params, schema.metrics, schema.tags):
                conn.execute(table.delete().where(table.c.run_uuid.in_(uuids)))
            conn.execute(schema.runs.delete().where(schema.runs.c.uuid.in_(uuids)))

    def clear(self) -> None:
        with self.engine.begin() as conn:
            for table in reversed(schema.metadata.sorted_tables):
                if table.name not in schema.STORE_TABLES:  # those are records, not an index
                    conn.execute(table.delete())

    # -- reading ---------------------------------------------------------------------------

    def run_path(self, uuid: str) -> str | None:
        return self.run_paths([uuid]).get(uuid)

    def run_paths(self, uuids: list[str]) -> dict[str, str]:
        """The folders of the runs ``uuids`` the catalog holds, in one query (uuid -> path)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(schema.runs.c.uuid, schema.runs.c.path).where(schema.runs.c.uuid.in_(uuids))
            ).all()
        return {uuid: path for uuid, path in rows}

    def find_runs_by_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(
                sa.select(schema.runs.c.uuid).where(schema.runs.c.uuid.startswith(prefix, autoescape=True)).limit(limit)
            ).scalars())

    def indexed_mtimes(self) -> dict[str, tuple[str, float | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(schema.runs.c.uuid, schema.runs.c.path, schema.runs.c.run_file_mtime))
            return {uuid: (path, mtime) for uuid, path, mtime in rows}

    def projects(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(schema.projects.c.name).order_by(schema.projects.c.name)).scalars())

    def project_summaries(self) -> list[dict[str, Any]]:
        """Each project with its run count and last activity (newest time any run shows)."""
        P, R = schema.projects, schema.runs
        newest = sa.func.max(sa.func.coalesce(R.c.heartbeat_at, R.c.finished_at, R.c.started_at, R.c.created_at))
        select = (sa.select(P.c.name, P.c.created_at, sa.func.count(R.c.uuid).label("runs"),
                            newest.label("last_activity"))
                  .select_from(P.outerjoin(R, R.c.project == P.c.name))
                  .group_by(P.c.name, P.c.created_at).order_by(P.c.name))
        with self.engine.connect() as conn:
            return [{"name": r.name, "created_at": as_aware(r.created_at), "run_count": r.runs,
                     "last_activity": as_aware(_utc(r.last_activity) if isinstance(r.last_activity, str)
                                               else r.last_activity)}
                    for r in conn.execute(select)]

    def search(
        self,
        project: str | None = None,
        filter: str | None = None,
        order_by: list[str] | str | None = None,
        limit: int | None = 100,
        offset: int = 0,
        crashed_before: datetime | None = None,
        after: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of matching runs, each with ``metrics``, ``tags``, ``inputs``, ``outputs`` and
        ``sort_key`` (its values in the ordering); ``after`` (a row's ``sort_key``) starts the
        page after that row: keyset paging, as fast deep down as on the first page.

        Rows hold the values as the database returns them, unconverted: times and JSON columns
        as stored (text on SQLite), and ``metrics`` as rows ``(run_uuid, name, last, min, max, count,
        last_step, last_timestamp)``. ``labbook.runs.RunRow`` converts a value when it is read,
        so listing many runs costs little more than the SQL itself."""
        runs = schema.runs
        columns = _search_columns()
        in_project = [] if project is None else [runs.c.project == project]
        if after is not None:
            after = [_utc(v) if isinstance(v, datetime) else v for v in after]
        by_metric = offset == 0 and bool(order_by) and metric_order(order_by) is not None
        # A first page ordered by a metric on PostgreSQL runs the statement built for the same
        # arguments before, when that one filled its page (building it again costs more Python
        # than PostgreSQL takes to run it); a page that is short now takes the whole path below.
        # ``crashed_before`` moves with the clock: in the key only where the filter tests status.
        page_key = None
        if by_metric and after is None and limit is not None and self.path is None:
            page_key = (project, filter, order_by if isinstance(order_by, str) else tuple(order_by or ()), limit,
                        WALK_WINDOW, crashed_before if filter and "status" in filter.lower() else None)
        known = None if page_key is None else self._first_pages.get(page_key)
        with self._reads.connect() as conn:
            rows = None if known is None else _read_page(conn, known, 2)
            if rows is not None and limit is not None and len(rows) >= limit:
                return rows  # each row has its metrics and tags (PostgreSQL)
            condition, conjuncts = parse_filter_parts(filter, crashed_before)
            where = in_project if condition is None else [*in_project, condition]
            if by_metric:
                assert order_by is not None
                keep = None if page_key is None else lambda statement: self._keep_first_page(page_key, statement)
                rows = self._search_by_metric(conn, columns, where, in_project, conjuncts, order_by, limit, after,
                                              keep)
            else:
                select, keys = ordering(sa.select(*columns).select_from(runs).where(*where), order_by)
                if after is not None:
                    select = select.where(after_key(keys, after))
                page = select.limit(limit).offset(offset or None)
                rows = _fetch(conn, page, keys) if self.path is None else _fetch_sqlite(conn, page, keys, self.path)
            uuids = [row["uuid"] for row in rows if "metrics" not in row]  # none on PostgreSQL (_fetch)
            metrics: dict[str, list[tuple]] = {uuid: [] for uuid in uuids}
            tags: dict[str, list[str]] = {uuid: [] for uuid in uuids}
            if self.path is not None:  # SQLite: the same statements, read with sqlite3 itself
                raw = conn.connection.driver_connection
                assert isinstance(raw, sqlite3.Connection)
                page_summaries(raw, uuids, metrics, tags, self.path)
            m, t = schema.metrics, schema.tags
            metric_columns = (m.c.run_uuid, m.c.name, m.c.last, m.c.min, m.c.max, m.c.count,
                              m.c.last_step, sa.type_coerce(m.c.last_timestamp, sa.Text))
            for some in _chunks(uuids, 500) if self.path is None else ():  # the page's runs by id
                for r in conn.execute(sa.select(*metric_columns).where(_one_of(conn, m.c.run_uuid, some))).all():
                    metrics[r[0]].append(r)  # (run_uuid, name, last, ...): RunRow skips the uuid
                for uuid, tag in conn.execute(sa.select(t.c.run_uuid, t.c.tag)
                                              .where(_one_of(conn, t.c.run_uuid, some))).all():
                    tags[uuid].append(tag)
        for row in rows:
            if "metrics" not in row:
                row["metrics"] = metrics[row["uuid"]]
                row["tags"] = tags[row["uuid"]]
        return rows

    def _keep_first_page(self, key: tuple, statement: sa.Select) -> None:
        pages = self._first_pages
        for oldest in list(pages)[:len(pages) - FIRST_PAGES + 1]:  # a dict keeps its insertion order
            pages.pop(oldest, None)
        pages[key] = statement

    @staticmethod
    def _search_by_metric(conn: sa.Connection, columns: list[Any], where: list[Any], in_project: list[Any],
                          conjuncts: list[Conjunct],
                          order_by: list[str] | str, limit: int | None,
                          after: list[Any] | None, keep: Any = None) -> list[dict[str, Any]]:
        """``search`` ordered by one metric summary, read in the order of that metric's index.

        The general query joins every matching run to its summary and sorts them all (NULLs
        last). Here the runs that have a value come first, from an inner join that walks the
        index ``(name, <summary>, run_uuid)`` from the page's first value and stops when the page
        is full; a comparison of the same summary in the filter bounds the walk (in place of
        its own test). The walk is held to the first ``WALK_WINDOW`` values of the index (and
        any ties of the last), so a filter that matches only far down the index (one that runs
        against the order: ``-metrics.loss`` with ``metrics.accuracy > 0.99``) costs a short
        walk, not the whole index; what the page still lacks then comes from the general
        query, restricted to the runs beyond the window (and those without a value, by uuid).
        Same rows, same order, same ``sort_key`` as the general query (a test compares them).
        ``keep``: called with the page's statement when it filled the page (``search`` runs it
        again for the same arguments)."""
        runs = schema.runs
        field, descending = metric_order(order_by) or (None, False)
        assert field is not None, "ordered by one metric summary"
        m = schema.metrics.alias("order_m0")
        value, uuid = m.c[field.attr], m.c.run_uuid
        bounds, others = metric_bounds(conjuncts, field, value)
        if after is not None:
            check_after(2, after)
        rows: list[dict[str, Any]] = []
        edge = None  # the value the walk stops at (None: it reads every value)
        if after is None or after[0] is not None:
            in_index = [m.c.name == field.key, value.is_not(None), *bounds]
            start = [] if after is None else after_value(value, descending, uuid, after)
            in_order = value.desc() if descending else value.asc()
            edge_of = None
            if limit is not None:
                window = max(WALK_WINDOW, 2 * limit)
                # the edge: the window's last value, from the same index (its own alias)
                e = schema.metrics.alias("edge_m")
                edge_value = e.c[field.attr]
                edge_of = (sa.select(edge_value)
                           .where(e.c.name == field.key, edge_value.is_not(None),
                                  *metric_bounds(conjuncts, field, edge_value)[0],
                                  *([] if after is None else after_value(edge_value, descending, e.c.run_uuid,
                                                                         after)[:1]))
                           .order_by(edge_value.desc() if descending else edge_value.asc())
                           .offset(window - 1).limit(1))
                # in the page's statement (PostgreSQL runs it once, first, as an InitPlan): when the
                # index holds fewer values than the window, the walk reads them all (NULL -> the
                # value no summary passes: -Infinity descending; NaN, the greatest, ascending)
                unbounded = float("-inf") if descending else (
                    float("nan") if conn.dialect.name == "postgresql" else float("inf"))
                bound = sa.func.coalesce(edge_of.scalar_subquery(), sa.literal(unbounded, sa.Float))
                in_index.append(value >= bound if descending else value <= bound)
            # The walk: the index, and the filter's tests of a run's id alone (a param, a metric, a
            # tag: ``runs.uuid IN (...)``, asked of the summary's run_uuid), in a subquery the planner
            # keeps as it is (OFFSET 0): a run's row is read only for the runs that pass them (the
            # planner would read it for every index entry walked, before the param's test).
            by_id, on_row = _split_by_id(others, m.c.run_uuid)
            walk = (sa.select(uuid.label("run_uuid"), value.label("value")).where(*in_index, *start, *by_id)
                    # no NULL among them: plain ASC/DESC, the order an index scan gives either way
                    .order_by(in_order, uuid.asc()).offset(0).subquery("walk"))
            walked = walk.c.value
            select = (sa.select(*columns).select_from(walk.join(runs, runs.c.uuid == walk.c.run_uuid))
                      .where(*in_project, *on_row)
                      .order_by(walked.desc() if descending else walked.asc(), walk.c.run_uuid.asc()))
            statement = _page_statement(conn, select.limit(limit), [(walked, descending), (walk.c.run_uuid, False)])
            rows = _read_page(conn, statement, 2)
            if limit is not None and len(rows) >= limit:
                if keep is not None:
                    keep(statement)
                return rows
            if edge_of is not None:  # the page is short: what the walk stopped at decides what is left
                edge = conn.execute(edge_of).scalar()
        if edge is None and bounds:  # every value was walked, and a bound excludes runs without one
            return rows
        select, keys = ordering(sa.select(*columns).select_from(runs).where(*where), order_by)
        column = keys[0][0]
        rest = column.is_(None)
        if edge is not None:
            rest = sa.or_(column < edge if descending else column > edge, rest)
        select = select.where(rest)
        if after is not None:
            select = select.where(after_key(keys, after))
        return rows + _fetch(conn, select.limit(None if limit is None else limit - len(rows)), keys)

    def count(self, project: str | None = None, filter: str | None = None,
              crashed_before: datetime | None = None) -> int:
        select = sa.select(sa.func.count()).select_from(schema.runs)
        if project is not None:
            select = select.where(schema.runs.c.project == project)
        condition = parse_filter(filter, crashed_before)
        if condition is not None:
            select = select.where(condition)
        with self.engine.connect() as conn:
            return conn.execute(select).scalar_one()

    def name_counts(self, kind: str, project: str | None = None, text: str = "", limit: int = 200,
                    sample: int = 5000) -> tuple[list[tuple[str, int]], int]:
        """The param (``params``), output, metric or tag names the ``sample`` newest runs use,
        with how many of those runs use each, most used first (``limit + 1`` at most, so a caller
        can tell the list was cut), and how many runs were sampled. ``text``: only names holding
        it, in any case. An index range over the newest runs: the same cost at 100 or 100,000 runs."""
        R = schema.runs
        if kind in ("params", "outputs"):
            table, column = schema.params, schema.params.c.key
            where = [table.c.section == ("inputs" if kind == "params" else "outputs")]
        elif kind == "metrics":
            table, column, where = schema.metrics, schema.metrics.c.name, []
        else:
            table, column, where = schema.tags, schema.tags.c.tag, []
        if text:
            where.append(sa.func.lower(column).contains(text.lower(), autoescape=True))
        newest = sa.select(R.c.uuid).order_by(R.c.created_at.desc()).limit(sample)
        if project is not None:
            newest = newest.where(R.c.project == project)
        runs_of = newest.subquery()
        runs = sa.func.count().label("runs")
        select = (sa.select(column.label("name"), runs)
                  .select_from(table.join(runs_of, table.c.run_uuid == runs_of.c.uuid))
                  .where(*where).group_by(column).order_by(runs.desc(), column).limit(limit + 1))
        with self.engine.connect() as conn:
            found = [(r.name, r.runs) for r in conn.execute(select)]
            sampled = conn.execute(sa.select(sa.func.count()).select_from(runs_of)).scalar_one()
            if table is schema.params and found:
                found = _nested_leaves(conn, where[0], newest.limit(NESTED_SAMPLE), found)
        return found, sampled

    def close(self) -> None:
        if self._sqlite_index is not None:
            self._sqlite_index.close()
            self._sqlite_index = None
        self.engine.dispose()


def _nested_leaves(conn: sa.Connection, section: Any, newest: Any,
                   found: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """``found`` with each name whose value is a dict replaced by its dotted leaves (``optimizer`` ->
    ``optimizer.name``, ``optimizer.momentum``: what a table's column or a filter names), each
    with the dict's count. The leaves are those of the dicts in the ``newest`` runs (a few hundred:
    a sweep's nested params have one shape); a leaf named like a listed param is listed once. (Not
    a column of the grouped query: that one reads only the index of names, and this few rows.)"""
    p = schema.params
    # the runs' uuids first, then their params by primary key: given the join, SQLite walked the
    # index of names over every run instead (17 s at 100,000 runs)
    uuids = list(conn.execute(newest).scalars())
    select = (sa.select(p.c.key, p.c.value_json)
              .where(p.c.run_uuid.in_(uuids), section, p.c.value_num.is_(None), p.c.value_text.is_(None)))
    names = {name for name, _ in found}
    leaves: dict[str, dict[str, None]] = {}
    for key, value in conn.execute(select):
        if key in names and isinstance(value, dict) and value:
            leaves.setdefault(key, {}).update(dict.fromkeys(_leaves(value, key + ".")))
    listed = {name for name, _ in found}
    out: list[tuple[str, int]] = []
    for name, runs in found:
        if name in leaves:
            out.extend((leaf, runs) for leaf in leaves[name] if leaf not in listed)
        else:
            out.append((name, runs))
    return out


def _leaves(value: dict[str, Any], prefix: str) -> list[str]:
    """The dotted names of a nested dict's leaves (lists and empty dicts are leaves)."""
    return [leaf for key, inner in value.items()
            for leaf in (_leaves(inner, f"{prefix}{key}.") if isinstance(inner, dict) and inner else [f"{prefix}{key}"])]


def _writable(path: Path) -> bool:
    """Can this process change the SQLite file (and create its -wal and -shm beside it)?"""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _read_only_engine(path: Path) -> sa.Engine:
    """Open a SQLite catalog without writing anything next to it.

    ``mode=ro`` still needs the -shm file of a WAL database (it exists while a writer has the
    file open, so recent changes are seen); when it cannot be used, ``immutable=1`` reads the
    main file alone, which is exactly the catalog as it was last closed."""
    from urllib.parse import quote

    target = f"file:{quote(str(path))}"

    def connect() -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(f"{target}?mode=ro", uri=True, timeout=60,
                                         check_same_thread=False)
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return connection
        except sqlite3.OperationalError:
            return sqlite3.connect(f"{target}?immutable=1", uri=True, check_same_thread=False)

    return sa.create_engine("sqlite://", creator=connect, poolclass=sa.pool.NullPool)


_columns: list[Any] = []


def _search_columns() -> list[Any]:
    """The runs' columns as ``search`` selects them (built once: SQLAlchemy's coercions cost a
    millisecond a listing)."""
    if not _columns:
        _columns[:] = [sa.type_coerce(c, sa.Text).label(c.name) if isinstance(c.type, _CONVERTED) else c
                       for c in schema.runs.c]
    return _columns


def _fetch(conn: sa.Connection, select: sa.Select, keys: list[tuple[Any, bool]]) -> list[dict[str, Any]]:
    """The rows of ``select`` as dicts, each with ``sort_key``: its values of ``keys``.

    On PostgreSQL each row also gets its ``metrics`` and ``tags`` from the same statement (the
    page is a subquery; each of its runs' summaries and tags come as arrays from a lateral join,
    so a page is one round trip, not three); elsewhere ``search`` reads them by the page's ids."""
    return _read_page(conn, _page_statement(conn, select, keys), len(keys))


def _page_statement(conn: sa.Connection, select: sa.Select, keys: list[tuple[Any, bool]]) -> sa.Select:
    """``select`` with its sort keys (``_sort_<i>``) and, on PostgreSQL, its runs' children."""
    select = select.add_columns(*(column.label(f"_sort_{i}") for i, (column, _) in enumerate(keys)))
    return _with_children(select, keys) if conn.dialect.name == "postgresql" else select


def _read_page(conn: sa.Connection, statement: sa.Select, key_count: int) -> list[dict[str, Any]]:
    """The rows of a ``_page_statement`` (of ``key_count`` sort keys), as ``_fetch`` gives them."""
    children = conn.dialect.name == "postgresql"
    result = conn.execute(statement)
    names = list(result.keys())
    width = names.index("_sort_0")
    end = width + key_count
    rows = []
    for found in result.all():  # one fetchall, not a fetch per row
        row = dict(zip(names[:width], found))
        row["sort_key"] = list(found[width:end])
        if children:
            uuid, metric_names, tags = row["uuid"], found[end], found[end + 7]
            # by name (unique in a run, so the tuples compare by name alone), as the generic path
            row["metrics"] = [] if metric_names is None else [
                (uuid, *summary) for summary in sorted(zip(metric_names, *found[end + 1:end + 7]))]
            row["tags"] = sorted(tags) if tags else []
        rows.append(row)
    return rows


def _split_by_id(conditions: list[Any], run_uuid: Any) -> tuple[list[Any], list[Any]]:
    """``conditions`` in two: those that read no column of ``runs`` but its ``uuid``, rewritten to
    test ``run_uuid`` (another table's copy of the run's id) instead, and the others, as they are."""
    runs = schema.runs
    by_id, on_row = [], []

    def to_run_uuid(element: Any, **kw: Any) -> Any:
        return run_uuid if element is runs.c.uuid else None

    for condition in conditions:
        columns = {e for e in sa.sql.visitors.iterate(condition) if isinstance(e, sa.Column) and e.table is runs}
        if columns <= {runs.c.uuid}:
            element: sa.ColumnElement[Any] = condition
            by_id.append(sa.sql.visitors.replacement_traverse(element, dict[str, Any](), to_run_uuid))
        else:
            on_row.append(condition)
    return by_id, on_row


_SUMMARY_COLUMNS = ("name", "last", "min", "max", "count", "last_step", "last_timestamp")


def _with_children(select: sa.Select, keys: list[tuple[Any, bool]]) -> sa.Select:
    """PostgreSQL: ``select`` (with its ``_sort_<i>`` columns) as the page, and beside each of its
    rows the run's metric summaries (one array per column, by name) and tags (by tag), in the
    page's order. The lateral subqueries run for the page's rows only (after its LIMIT).

    The arrays come in no particular order (one aggregate pass: the same order in each array);
    ``_fetch`` sorts them by name. ``array_agg(... ORDER BY name)`` sorted each of the eight
    arrays of each run in PostgreSQL: about half of the page's execution time."""
    page = select.subquery("page")
    m, t = schema.metrics, schema.tags
    raw = sa.types.NullType()  # the arrays as psycopg returns them: no SQLAlchemy pass over each item
    summaries = (sa.select(*(sa.func.array_agg(m.c[name], type_=raw).label(f"_m_{name}")
                             for name in _SUMMARY_COLUMNS))
                 .where(m.c.run_uuid == page.c.uuid).lateral("page_m"))
    tags = (sa.select(sa.func.array_agg(t.c.tag, type_=raw).label("_tags"))
            .where(t.c.run_uuid == page.c.uuid).lateral("page_t"))
    order = [page.c[f"_sort_{i}"].desc().nulls_last() if descending else page.c[f"_sort_{i}"].asc().nulls_last()
             for i, (_, descending) in enumerate(keys)]
    return (sa.select(page, summaries, tags)
            .select_from(page.outerjoin(summaries, sa.true()).outerjoin(tags, sa.true()))
            .order_by(*order))


def _one_of(conn: sa.Connection, column: Any, values: list[str]) -> sa.ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter: a statement of a
    hundred parameters is longer than psycopg caches, so it would be parsed again each time."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam("values", values, type_=ARRAY(sa.String)))
    return column.in_(values)


def _json_loads(text: str | bytes) -> Any:
    """JSON columns as PostgreSQL sends them, read by orjson (several times faster than ``json``,
    a page of runs holds hundreds of values); ``json`` reads what orjson refuses (NaN)."""
    import orjson

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _fetch_sqlite(conn: sa.Connection, select: sa.Select, keys: list[tuple[Any, bool]],
                  where: Path) -> list[dict[str, Any]]:
    """``_fetch`` on SQLite, at the cost of the SQL: the statement built, compiled (once: the
    engine's cache) and bound by SQLAlchemy, its rows read as the sqlite3 cursor returns them (no
    row object per run), and a value converted only where SQLAlchemy's type converts it (a time
    in the sort key, text on SQLite, becomes a datetime): the same dicts as ``_fetch``. A sort
    key's run column (``created_at``, ``uuid``...) is read once, from the row's own column.
    A damaged catalog file (``where``) raises its ``CatalogError``, as through SQLAlchemy."""
    names = [column.name for column in select.selected_columns]
    dialect = conn.dialect
    at: list[int] = []  # each key's index in the statement's columns
    extra: list[Any] = []  # the keys it must add (not a run column)
    for column, _ in keys:
        if getattr(column, "table", None) is schema.runs and column.name in names:
            at.append(names.index(column.name))
        else:
            at.append(len(names) + len(extra))
            extra.append(column.label(f"_sort_{len(at) - 1}"))
    result = conn.execute(select.add_columns(*extra))
    convert = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column, _ in keys]
    on_key = [(index, at[index], function) for index, function in enumerate(convert) if function is not None]
    plain = [(index, at[index]) for index, function in enumerate(convert) if function is None]
    try:
        found = result.cursor.fetchall()  # the DB-API cursor's plain tuples
    except sqlite3.DatabaseError as error:
        raise translate(error, where) or error from None
    finally:
        result.close()
    rows = [dict(zip(names, values)) for values in found]  # zip stops at the sort keys added
    width = len(keys)
    for row, values in zip(rows, found):
        key: list[Any] = [None] * width
        for index, position in plain:
            key[index] = values[position]
        for index, position, function in on_key:
            key[index] = function(values[position])
        row["sort_key"] = key
    return rows
