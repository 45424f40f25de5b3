"""Indexing runs into a SQLite catalog with the standard library alone.

A logging process keeps its runs' catalog entries current (listed at once, current when they
end), but it should not pay for SQLAlchemy and Alembic to do so: importing them costs a fresh
process a third of a second, tens of megabytes, and tens of thousands of objects that the
garbage collector then walks inside the training loop. For the embedded SQLite catalog this
module does the same writes with ``sqlite3``:

* ``SqliteIndex(path)`` opens the catalog as ``Catalog`` does (WAL, busy timeout, foreign keys,
  ``synchronous=NORMAL``: a commit appends to the WAL without an fsync). A file that does not
  exist yet is created from ``SCHEMA``, the exact statements Alembic's migrations leave in
  ``sqlite_master`` at ``HEAD_REVISION`` (a test checks they agree), under the same file lock as
  a migration, built aside and linked into place whole (``create_aside``: one fsync). A catalog at another revision raises ``NeedsCatalog``: the caller falls back to
  ``labbook.catalog.catalog.Catalog``, which migrates it.
* ``upsert_run`` writes a run record's rows in one transaction, with the values stored as
  SQLAlchemy stores them (times as ``YYYY-MM-DD HH:MM:SS.ffffff`` naive UTC, JSON as
  ``json.dumps``), so the catalog reads the same whoever wrote it. ``Catalog.upsert_run`` uses it
  for SQLite too: one writer of run rows.

PostgreSQL catalogs are written through SQLAlchemy, from the background (``RunIndexer``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from labbook.errors import CatalogDamagedError, CatalogError, LabbookError
from labbook.store.files import file_lock, temporary_name

HEAD_REVISION = "0008"  # labbook.catalog.schema.HEAD_REVISION; a test checks they agree
_PROCESS_LOCK = threading.Lock()  # one creator or migrator per process (catalog.py takes it through process_lock())
# SQLite result codes (sqlite3 names them from Python 3.11 only)
_SQLITE_READONLY, _SQLITE_CORRUPT, _SQLITE_NOTADB = 8, 11, 26

# What Alembic's migrations leave in sqlite_master at HEAD_REVISION, in order.
SCHEMA = (
    'CREATE TABLE alembic_version (\n\tversion_num VARCHAR(32) NOT NULL, \n\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n)',
    'CREATE TABLE projects (\n\tname VARCHAR(255) NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\tdescription TEXT, \n\tsettings JSON, \n\tPRIMARY KEY (name)\n)',
    'CREATE TABLE runs (\n\tuuid VARCHAR(64) NOT NULL, \n\tproject VARCHAR(255) NOT NULL, \n\tname TEXT, \n\tdescription TEXT, \n\tstatus VARCHAR(32) NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\tstarted_at DATETIME, \n\tfinished_at DATETIME, \n\tduration FLOAT, \n\theartbeat_at DATETIME, \n\tuser VARCHAR(255), \n\thost VARCHAR(255), \n\tgit_commit VARCHAR(64), \n\tpath TEXT NOT NULL, \n\trun_file_mtime FLOAT, \n\tinputs JSON, \n\toutputs JSON, \n\tmeta JSON, \n\tPRIMARY KEY (uuid), \n\tFOREIGN KEY(project) REFERENCES projects (name)\n)',
    'CREATE INDEX ix_runs_project_created ON runs (project, created_at)',
    'CREATE INDEX ix_runs_project_status ON runs (project, status)',
    'CREATE TABLE params (\n\trun_uuid VARCHAR(64) NOT NULL, \n\tsection VARCHAR(8) NOT NULL, \n\t"key" VARCHAR(512) NOT NULL, \n\tvalue_num FLOAT, \n\tvalue_text TEXT, \n\tvalue_json JSON, \n\tPRIMARY KEY (run_uuid, section, "key"), \n\tFOREIGN KEY(run_uuid) REFERENCES runs (uuid) ON DELETE CASCADE\n)',
    'CREATE INDEX ix_params_key_num ON params (section, "key", value_num)',
    'CREATE TABLE metrics (\n\trun_uuid VARCHAR(64) NOT NULL, \n\tname VARCHAR(1024) NOT NULL, \n\tlast FLOAT, \n\tmin FLOAT, \n\tmax FLOAT, \n\tcount INTEGER NOT NULL, \n\tlast_step BIGINT, \n\tlast_timestamp DATETIME, \n\tPRIMARY KEY (run_uuid, name), \n\tFOREIGN KEY(run_uuid) REFERENCES runs (uuid) ON DELETE CASCADE\n)',
    'CREATE TABLE tags (\n\trun_uuid VARCHAR(64) NOT NULL, \n\ttag VARCHAR(255) NOT NULL, \n\tPRIMARY KEY (run_uuid, tag), \n\tFOREIGN KEY(run_uuid) REFERENCES runs (uuid) ON DELETE CASCADE\n)',
    'CREATE INDEX ix_tags_tag ON tags (tag)',
    'CREATE TABLE artifacts (\n\tproject VARCHAR(255) NOT NULL, \n\t"key" VARCHAR(255) NOT NULL, \n\tkind VARCHAR(32) NOT NULL, \n\tlatest_number INTEGER NOT NULL, \n\tupdated_at DATETIME NOT NULL, \n\tPRIMARY KEY (project, "key")\n)',
    'CREATE TABLE artifact_versions (\n\tuid VARCHAR(64) NOT NULL, \n\tproject VARCHAR(255) NOT NULL, \n\t"key" VARCHAR(255) NOT NULL, \n\tnumber INTEGER NOT NULL, \n\tkind VARCHAR(32) NOT NULL, \n\thash VARCHAR(64) NOT NULL, \n\tsize BIGINT NOT NULL, \n\tis_dir BOOLEAN NOT NULL, \n\tformat VARCHAR(32), \n\tproducer_run VARCHAR(64), \n\tcreated_at DATETIME NOT NULL, \n\trecord JSON NOT NULL, \n\tPRIMARY KEY (uid), \n\tCONSTRAINT uq_artifact_versions_number UNIQUE (project, "key", number)\n)',
    'CREATE INDEX ix_artifact_versions_project_kind ON artifact_versions (project, kind, created_at)',
    'CREATE INDEX ix_artifact_versions_project_created ON artifact_versions (project, created_at)',
    'CREATE INDEX ix_artifact_versions_producer ON artifact_versions (producer_run)',
    'CREATE INDEX ix_artifact_versions_hash ON artifact_versions (hash)',
    'CREATE TABLE artifact_labels (\n\tuid VARCHAR(64) NOT NULL, \n\tname VARCHAR(255) NOT NULL, \n\tvalue TEXT, \n\tPRIMARY KEY (uid, name), \n\tFOREIGN KEY(uid) REFERENCES artifact_versions (uid) ON DELETE CASCADE\n)',
    'CREATE INDEX ix_artifact_labels_name_value ON artifact_labels (name, value)',
    'CREATE TABLE artifact_tags (\n\tproject VARCHAR(255) NOT NULL, \n\t"key" VARCHAR(255) NOT NULL, \n\ttag VARCHAR(64) NOT NULL, \n\tuid VARCHAR(64) NOT NULL, \n\tPRIMARY KEY (project, "key", tag), \n\tFOREIGN KEY(uid) REFERENCES artifact_versions (uid) ON DELETE CASCADE\n)',
    'CREATE INDEX ix_artifact_tags_uid ON artifact_tags (uid)',
    'CREATE TABLE artifact_links (\n\tfrom_uid VARCHAR(64) NOT NULL, \n\trelation VARCHAR(16) NOT NULL, \n\tname VARCHAR(255) NOT NULL, \n\tto_uid VARCHAR(64) NOT NULL, \n\tPRIMARY KEY (from_uid, relation, name)\n)',
    'CREATE INDEX ix_artifact_links_to ON artifact_links (to_uid)',
    'CREATE TABLE lineage (\n\tid VARCHAR(32) NOT NULL, \n\tproject VARCHAR(255) NOT NULL, \n\trun_uuid VARCHAR(64) NOT NULL, \n\tis_input BOOLEAN NOT NULL, \n\tname TEXT NOT NULL, \n\tkind VARCHAR(32) NOT NULL, \n\tpath TEXT, \n\tuid VARCHAR(64), \n\tcreated_at DATETIME NOT NULL, \n\tPRIMARY KEY (id)\n)',
    'CREATE INDEX ix_lineage_run ON lineage (run_uuid)',
    'CREATE INDEX ix_lineage_uid ON lineage (uid)',
    'CREATE INDEX ix_lineage_path ON lineage (path)',
    'CREATE TABLE api_tokens (\n\tid VARCHAR(16) NOT NULL, \n\tname VARCHAR(255) NOT NULL, \n\tscope VARCHAR(16) NOT NULL, \n\tproject VARCHAR(255), \n\tsalt VARCHAR(64) NOT NULL, \n\thash VARCHAR(64) NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\texpires_at DATETIME, \n\trevoked_at DATETIME, \n\tlast_used_at DATETIME, \n\tPRIMARY KEY (id)\n)',
    'CREATE INDEX ix_api_tokens_name ON api_tokens (name)',
    'CREATE TABLE stream_files (\n\trun_uuid VARCHAR(64) NOT NULL, \n\tpath VARCHAR(1024) NOT NULL, \n\tcommitted BIGINT NOT NULL, \n\tupdated_at DATETIME NOT NULL, \n\tPRIMARY KEY (run_uuid, path)\n)',
    'CREATE TABLE file_chunks (\n\trun_uuid VARCHAR(64) NOT NULL, \n\tpath VARCHAR(1024) NOT NULL, \n\t"offset" BIGINT NOT NULL, \n\tlength BIGINT NOT NULL, \n\tobject VARCHAR(1200) NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\tPRIMARY KEY (run_uuid, path, "offset")\n)',
    'CREATE TABLE series_compactions (\n\trun_uuid VARCHAR(64) NOT NULL, \n\tkind VARCHAR(32) NOT NULL, \n\tname VARCHAR(1024) NOT NULL, \n\tpoints_object VARCHAR(1200) NOT NULL, \n\ttiles_object VARCHAR(1200) NOT NULL, \n\tpoints BIGINT NOT NULL, \n\tcovers JSON NOT NULL, \n\tcreated_at DATETIME NOT NULL, \n\tPRIMARY KEY (run_uuid, kind, name)\n)',
    'CREATE TABLE jobs (\n\tid INTEGER NOT NULL, \n\tkind VARCHAR(32) NOT NULL, \n\trun_uuid VARCHAR(64) NOT NULL, \n\ttarget VARCHAR(1100) NOT NULL, \n\tstate VARCHAR(16) NOT NULL, \n\tattempts INTEGER NOT NULL, \n\tclaimed_by VARCHAR(128), \n\tclaimed_at DATETIME, \n\tfinished_at DATETIME, \n\terror TEXT, \n\tcreated_at DATETIME NOT NULL, \n\tPRIMARY KEY (id)\n)',
    'CREATE INDEX ix_jobs_state_id ON jobs (state, id)',
    'CREATE INDEX ix_jobs_target ON jobs (run_uuid, target, state)',
    'CREATE TABLE stored_files (\n\trun_uuid VARCHAR(64) NOT NULL, \n\tpath VARCHAR(1024) NOT NULL, \n\tproject VARCHAR(255) NOT NULL, \n\tmode VARCHAR(16) NOT NULL, \n\tsize BIGINT NOT NULL, \n\tsha256 VARCHAR(64) NOT NULL, \n\tobject VARCHAR(1200) NOT NULL, \n\tupdated_at DATETIME NOT NULL, \n\tPRIMARY KEY (run_uuid, path)\n)',
    'CREATE INDEX ix_metrics_name_last_run ON metrics (name, last, run_uuid)',
    'CREATE INDEX ix_metrics_name_min_run ON metrics (name, min, run_uuid)',
    'CREATE INDEX ix_metrics_name_max_run ON metrics (name, max, run_uuid)',
)


# The whole schema in one transaction, as create_aside runs it (HEAD_REVISION is a plain token).
_CREATE_SCRIPT = ";\n".join(("BEGIN", *SCHEMA, f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD_REVISION}')",
                              "COMMIT")) + ";"


def _forked_child() -> None:
    global _PROCESS_LOCK
    _PROCESS_LOCK = threading.Lock()  # a logging process's indexer thread may hold it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked_child)


def process_lock() -> threading.Lock:
    """This process's creator/migrator lock: the current one (a forked child gets a new one), so
    never import ``_PROCESS_LOCK`` by name."""
    return _PROCESS_LOCK


class NeedsCatalog(LabbookError):
    """The catalog needs what only ``Catalog`` does (a migration); open it with that instead."""


def utc_naive(value: Any) -> datetime | None:
    """A time as the catalog stores it: naive UTC (the one form SQLite and PostgreSQL compare alike)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def number(value: Any) -> float | None:
    """The numeric column of a param: bools as 0/1, finite numbers as they are, else None."""
    if not isinstance(value, (bool, int, float)):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def finite(value: Any) -> float | None:
    """A metric summary's value as a number column: None for NaN and infinities."""
    if value is None:
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def run_rows(record: dict[str, Any], run_file_mtime: float | None) -> tuple[dict, list, list, list]:
    """The catalog rows of one run record: (runs row, params rows, metrics rows, tags rows),
    with Python values (times naive UTC); written by ``SqliteIndex`` and by ``Catalog``."""
    uuid = record["uuid"]
    env = record.get("env") or {}
    code = record.get("code") or {}
    row = {
        "project": record["project"],
        "name": record.get("name"),
        "description": record.get("description"),
        "status": record.get("status") or "created",
        "created_at": utc_naive(record.get("created_at")),
        "started_at": utc_naive(record.get("started_at")),
        "finished_at": utc_naive(record.get("finished_at")),
        "duration": record.get("duration"),
        "heartbeat_at": utc_naive(record.get("heartbeat_at")),
        "user": env.get("user"),
        "host": env.get("hostname"),
        "git_commit": code.get("commit"),
        "path": record["path"],
        "run_file_mtime": run_file_mtime,
        "inputs": record.get("inputs") or {},
        "outputs": record.get("outputs") or {},
        "meta": record.get("meta") or {},
    }
    params = [
        {"run_uuid": uuid, "section": section, "key": key, "value_num": number(value),
         "value_text": value if isinstance(value, str) else None, "value_json": value}
        for section in ("inputs", "outputs")
        for key, value in (record.get(section) or {}).items()
    ]
    metrics = [
        {"run_uuid": uuid, "name": name, "last": finite(s.get("last")),
         "min": finite(s.get("min")), "max": finite(s.get("max")), "count": s["count"],
         "last_step": s.get("last_step"), "last_timestamp": utc_naive(s.get("last_timestamp"))}
        for name, s in (record.get("metrics") or {}).items()
    ]
    tags = [{"run_uuid": uuid, "tag": tag} for tag in dict.fromkeys(record.get("tags") or [])]
    return row, params, metrics, tags


def _time(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text."""
    if value is None:
        return None
    return (f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:"
            f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}")


_TIME_COLUMNS = frozenset({"created_at", "started_at", "finished_at", "heartbeat_at", "last_timestamp"})
_JSON_COLUMNS = frozenset({"inputs", "outputs", "meta", "value_json"})


def _stored(column: str, value: Any) -> Any:
    if column in _TIME_COLUMNS:
        return _time(value)
    if column in _JSON_COLUMNS:
        return json.dumps(value)
    return value


def _insert(table: str, rows: list[dict[str, Any]]) -> tuple[str, list[tuple]]:
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    return sql, [tuple(_stored(c, row[c]) for c in columns) for row in rows]


def translate(error: sqlite3.DatabaseError, where: Any) -> CatalogError | None:
    """The CatalogError a damaged or read-only SQLite file means, or None for other errors."""
    code = getattr(error, "sqlite_errorcode", None)
    text = str(error)
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text \
            or "not a database" in text:
        return CatalogDamagedError(where, text)
    if code == _SQLITE_READONLY or "readonly database" in text:
        return CatalogError(
            f"The catalog {where} is read-only here ({text}), so it cannot be changed. Reading "
            "works; to log or index, use a home you can write to (--home or LABBOOK_HOME).")
    return None


_SUMMARIES = ("SELECT run_uuid, name, last, min, max, count, last_step, last_timestamp FROM metrics "
              "WHERE run_uuid IN ({})")
_TAGS = "SELECT run_uuid, tag FROM tags WHERE run_uuid IN ({})"


def page_summaries(connection: sqlite3.Connection, uuids: list[str], metrics: dict[str, list[tuple]],
                   tags: dict[str, list[str]], where: Any) -> None:
    """Add the metric summaries and tags of the runs ``uuids`` (a page ``Catalog.search`` found)
    to ``metrics[uuid]`` (rows ``(run_uuid, name, last, min, max, count, last_step,
    last_timestamp)``, the time as stored: text) and ``tags[uuid]``, in the order SQLite returns
    them, as the same statements through SQLAlchemy did. Read with ``connection`` (the search's
    own, so in its transaction), 500 runs a statement: no SQLAlchemy statement of 500 bound
    parameters to build and compile at every listing, no result row objects. A damaged catalog
    raises the ``CatalogError`` that names ``where``."""
    try:
        for start in range(0, len(uuids), 500):
            some = uuids[start:start + 500]
            marks = ",".join("?" * len(some))
            for row in connection.execute(_SUMMARIES.format(marks), some).fetchall():
                metrics[row[0]].append(row)
            for uuid, tag in connection.execute(_TAGS.format(marks), some).fetchall():
                tags[uuid].append(tag)
    except sqlite3.DatabaseError as error:
        raise translate(error, where) or error from None


@contextlib.contextmanager
def creation_lock(path: Path) -> Iterator[None]:
    """One creator or migrator of the SQLite file at ``path`` at a time, across threads and
    processes (several ranks may open a fresh home at once)."""
    with _PROCESS_LOCK, file_lock(f"{path}.migrate.lock"):
        yield


def create_aside(path: Path) -> None:
    """Create a new catalog file at ``path``: built under a temporary name, then linked into
    place whole (nothing if another process made ``path`` meanwhile).

    Made in place, a new SQLite file in WAL mode costs six fsyncs and a rollback journal created
    and removed (turning the empty file to WAL goes through one); on a busy machine each fsync
    waits for every other process's pending writes, tens of milliseconds, and the first run in a
    new home waits for its catalog at ``end()``. Built aside, the file needs no journal (nobody
    else sees it until it is complete) and one fsync, before the link that makes it visible.
    A crash leaves a hidden temporary file, never a half-made catalog. Where hard links cannot be
    made the caller creates the file in place (``SqliteIndex._open``)."""
    with creation_lock(path):
        if path.exists():
            return
        tmp = temporary_name(path)
        try:
            connection = sqlite3.connect(tmp, isolation_level=None)
            try:
                for pragma in ("journal_mode=OFF", "synchronous=OFF"):  # nobody reads it yet
                    connection.execute(f"PRAGMA {pragma}")
                # One script, one call: SQLite parses the statements in a loop of its own, which
                # takes about half the time of one execute() per statement.
                connection.executescript(_CREATE_SCRIPT)
                connection.execute("PRAGMA journal_mode=WAL")  # a file property: kept once linked
            finally:
                connection.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            with contextlib.suppress(FileExistsError):  # made meanwhile without the lock: it stands
                os.link(tmp, path)
        except (OSError, sqlite3.Error):
            pass  # no hard links here, say: SqliteIndex._open creates it in place
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(f"{tmp}{suffix}")


class SqliteIndex:
    """Writes run rows into the SQLite catalog at ``path`` (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()  # a transaction() holds it across its upserts
        self._in_transaction = False
        self._connection: sqlite3.Connection | None = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.DatabaseError as error:
            raise translate(error, self.path) or CatalogError(
                f"Cannot open the catalog at {self.path}: {error}.") from None

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            create_aside(self.path)
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                     check_same_thread=False)
        for pragma in ("journal_mode=WAL", "busy_timeout=60000", "foreign_keys=ON", "synchronous=NORMAL"):
            connection.execute(f"PRAGMA {pragma}")
        revision = self._revision(connection)
        if revision is None:
            with creation_lock(self.path):
                revision = self._revision(connection)
                if revision is None:  # nobody created it meanwhile
                    connection.execute("BEGIN IMMEDIATE")
                    try:
                        for statement in SCHEMA:
                            connection.execute(statement)
                        connection.execute("INSERT INTO alembic_version (version_num) VALUES (?)",
                                           (HEAD_REVISION,))
                    except BaseException:
                        connection.execute("ROLLBACK")
                        raise
                    connection.execute("COMMIT")
                    revision = HEAD_REVISION
        if revision != HEAD_REVISION:
            connection.close()
            raise NeedsCatalog(f"{self.path} is at revision {revision}, not {HEAD_REVISION}")
        return connection

    @staticmethod
    def _revision(connection: sqlite3.Connection) -> str | None:
        found = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
        if found is None:
            return None
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    def upsert_run(self, record: dict[str, Any], run_file_mtime: float | None = None,
                   newer_only: bool = False) -> None:
        """Index one run record (run.json plus merged metric summaries), in one transaction;
        ``newer_only``: not over a row indexed from a newer run.json (``run_file_mtime``)."""
        row, params, metrics, tags = run_rows(record, run_file_mtime)
        uuid = record["uuid"]
        columns = list(row)
        values = [_stored(c, row[c]) for c in columns]
        with self._lock:
            if self._connection is None:  # closed (the file was replaced): opened again
                self._connection = self._connect()
            connection = self._connection
            # Inside a transaction(), each run is a savepoint: a run that fails leaves the others.
            begin, commit, rollback = (("SAVEPOINT run", "RELEASE run", "ROLLBACK TO run")
                                       if self._in_transaction else ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"))
            try:
                connection.execute(begin)
                try:
                    if newer_only and run_file_mtime is not None:
                        found = connection.execute("SELECT run_file_mtime FROM runs WHERE uuid = ?",
                                                   (uuid,)).fetchone()
                        if found is not None and found[0] is not None and found[0] > run_file_mtime:
                            connection.execute(commit)  # nothing written
                            return
                    if connection.execute("SELECT 1 FROM projects WHERE name = ?",
                                          (row["project"],)).fetchone() is None:
                        connection.execute("INSERT INTO projects (name, created_at) VALUES (?, ?)",
                                           (row["project"], _time(utc_naive(datetime.now(timezone.utc)))))
                    assignments = ", ".join(f'"{c}" = ?' for c in columns)
                    updated = connection.execute(f"UPDATE runs SET {assignments} WHERE uuid = ?",
                                                 (*values, uuid)).rowcount
                    if not updated:
                        sql, inserted = _insert("runs", [{"uuid": uuid, **row}])
                        connection.execute(sql, inserted[0])
                    for table in ("params", "metrics", "tags"):
                        connection.execute(f"DELETE FROM {table} WHERE run_uuid = ?", (uuid,))
                    for table, rows in (("params", params), ("metrics", metrics), ("tags", tags)):
                        if rows:
                            connection.executemany(*_insert(table, rows))
                except BaseException:
                    connection.execute(rollback)
                    if self._in_transaction:
                        connection.execute(commit)  # the savepoint itself goes
                    raise
                connection.execute(commit)
            except sqlite3.DatabaseError as error:
                raise translate(error, self.path) or error from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around several ``upsert_run`` calls (the indexer thread's pass over
        the runs due): one commit, one append to the WAL, for all of them. Other threads' upserts
        wait for it to end."""
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            connection = self._connection
            try:
                connection.execute("BEGIN IMMEDIATE")
                self._in_transaction = True
                try:
                    yield
                except BaseException:
                    self._in_transaction = False
                    connection.execute("ROLLBACK")
                    raise
                self._in_transaction = False
                connection.execute("COMMIT")
            except sqlite3.DatabaseError as error:
                raise translate(error, self.path) or error from None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
