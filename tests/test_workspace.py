"""The read side's Workspace: one home's settings reach every rule, and closing releases the catalog."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

import labbook
from labbook.catalog.indexer import close_run_indexes, finish_pending
from labbook.store.runfile import read_run_file, update_run_file
from labbook.tracking.run import Run
from labbook.workspace import Workspace
from tests.test_catalog import POSTGRES_URL, postgres_url  # noqa: F401 - the fixture

QUIET = dict(install_handlers=False, track_env=False, track_code=False, track_logs=False, collect_resources=False)


def _stalled_run(home: Path, seconds_ago: float, *, heartbeat: bool = True, **settings) -> str:
    """A run in ``home`` that run.json says is ``running``, whose last heartbeat was
    ``seconds_ago`` (no heartbeat at all with ``heartbeat=False``), as a killed process leaves it."""
    run = Run(project="p", home=str(home), **QUIET)
    run.log_metric("loss", 0.5, step=0)
    run.end()
    stamp = (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat()
    record = read_run_file(run.path / "run.json")
    ops = [("set", "status", "running"), ("set", "finished_at", None), ("set", "started_at", stamp)]
    ops.append(("set", "heartbeat_at", stamp if heartbeat else None))
    update_run_file(run.path / "run.json", ops)
    for beat in (run.path / "heartbeat").glob("*"):
        beat.unlink()
    assert record["status"] == "succeeded"
    with Workspace(home=home) as workspace:
        workspace.reindex(full=False)
    return run.uuid


def _write_config(home: Path, **values) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("".join(f"{k} = {v!r}\n" for k, v in values.items()))


def test_a_crashed_filter_returns_only_rows_whose_status_reads_crashed(home):
    """A running run with no heartbeat at all has nothing to judge by: it reads ``running`` from
    its folder and its row, and the catalog's filter must say the same."""
    uuid = _stalled_run(home, 3600, heartbeat=False)
    assert labbook.get_run(uuid).status == "running"
    assert [(row.uuid, row.status) for row in labbook.search_runs("p", filter="status = 'crashed'")] == []
    assert [(row.uuid, row.status) for row in labbook.search_runs("p", filter="status = 'running'")] == \
        [(uuid, "running")]


def test_two_workspaces_on_two_homes_read_each_with_its_own_settings(tmp_path, monkeypatch):
    quick, patient = tmp_path / "quick" / ".labbook", tmp_path / "patient" / ".labbook"
    _write_config(quick, crash_timeout=1)
    _write_config(patient, crash_timeout=3600)
    elsewhere = tmp_path / "elsewhere" / ".labbook"
    quick_uuid = _stalled_run(quick, 120)
    patient_uuid = _stalled_run(patient, 120)
    # neither: every read (the crashed-run rule included) must use its own home's config.toml;
    # the default timeout (60 s) would call both runs crashed
    monkeypatch.setenv("LABBOOK_HOME", str(elsewhere))

    with Workspace(home=quick) as a, Workspace(home=patient) as b:
        assert a.get_run(quick_uuid).status == "crashed"
        assert b.get_run(patient_uuid).status == "running"
        assert [(r.uuid, r.status) for r in a.search_runs("p")] == [(quick_uuid, "crashed")]
        assert [(r.uuid, r.status) for r in b.search_runs("p")] == [(patient_uuid, "running")]
        assert [r.uuid for r in a.search_runs("p", filter="status = 'crashed'")] == [quick_uuid]
        assert b.search_runs("p", filter="status = 'crashed'") == []
        assert [r.uuid for r in b.search_runs("p", filter="status = 'running'")] == [patient_uuid]
        assert b.search_runs("p")[0].load().status == "running"
        with pytest.raises(labbook.errors.NotFoundError):
            a.get_run(patient_uuid)  # each sees only its own home
        assert [p.name for p in a.list_projects()] == ["p"]
        assert list(a.get_run(quick_uuid).metric("loss").values) == [0.5]
    # the module functions are shells over a workspace on the home they are given
    assert labbook.get_run(patient_uuid, home=patient).status == "running"
    assert labbook.get_run(quick_uuid, home=quick).status == "crashed"


def _open_files(path: Path) -> list[str]:
    """This process's open file descriptors on ``path`` (and its -wal/-shm)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def test_closing_a_workspace_releases_its_sqlite_files(home, run_factory):
    run = run_factory(project="p")
    run.end()
    close_run_indexes()  # the logging side's own connection (one per process), closed as at exit
    database = home / "catalog.db"
    workspace = Workspace(home=home)
    assert _open_files(database) == []  # nothing opened before the first read
    assert [r.uuid for r in workspace.search_runs("p")] == [run.uuid]
    assert _open_files(database) != []
    workspace.close()
    assert _open_files(database) == []
    with pytest.raises(labbook.errors.InvalidValueError, match="closed"):
        workspace.search_runs("p")
    assert labbook.get_run(run.uuid).status == "succeeded"
    assert _open_files(database) == []  # a module function closes the workspace it opened


def test_closing_a_workspace_releases_its_postgresql_connections(postgres_url, home, monkeypatch):  # noqa: F811
    monkeypatch.setenv("LABBOOK_CATALOG_URL", postgres_url)
    run = Run(project="p", **QUIET)
    run.end()
    database = postgres_url.rsplit("/", 1)[1]
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")

    def connections() -> int:
        with admin.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                                {"d": database}).scalar()

    def settled() -> int:
        """The count once closed sessions have left: a server process ends a moment after its
        client hangs up, so a closed connection may still be listed for a few milliseconds."""
        deadline = time.monotonic() + 10
        while connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        return connections()

    try:
        assert settled() == 0  # the run's indexer closed its catalog at end()
        with Workspace(home=home) as workspace:
            assert [r.uuid for r in workspace.search_runs("p")] == [run.uuid]
            assert connections() >= 1
        assert settled() == 0
    finally:
        admin.dispose()


def test_a_workspace_takes_settings_or_home_not_both(home, run_factory):
    from labbook.config import Settings

    run_factory().end()
    with pytest.raises(labbook.errors.InvalidValueError, match="settings or home"):
        Workspace(Settings.load({}), home=home)
    with pytest.raises(labbook.errors.NotFoundError):
        Workspace(home=home.parent / "missing")  # a read never creates a home


def test_a_run_store_on_an_fsspec_url_lists_and_reads_runs(run_factory, home):
    """The same run folders, copied to an object-store-like filesystem, list and read through
    RunStore (fsspec's in-memory filesystem stands in for s3:// here)."""
    import fsspec

    from labbook.store.layout import RunStore

    runs = [run_factory(project="p") for _ in range(2)]
    for run in runs:
        run.log_metric("loss", 0.5, step=0)
        run.end()
    memory = fsspec.filesystem("memory")
    root = f"/runs-{runs[0].uuid[:8]}"
    for run in runs:
        for path in run.path.rglob("*"):
            if path.is_file():
                memory.pipe(f"{root}/p/{run.uuid}/{path.relative_to(run.path).as_posix()}", path.read_bytes())
    store = RunStore(f"memory://{root}")
    local = RunStore(home / "artifacts")
    assert [str(u).rsplit("/", 1)[-1] for u in store.iter_runs()] == [p.name for p in local.iter_runs()]
    found = store.find(runs[1].uuid)
    assert store.read_bytes(found, "run.json") == (runs[1].path / "run.json").read_bytes()
    with pytest.raises(labbook.errors.PathEscapeError):
        store.read_bytes(found, "../other/run.json")


def test_a_run_killed_before_its_first_row_is_listed_from_its_marker(home, tmp_path):
    """A run's first row is written off the caller's path; until then the run is marked, and a
    reader indexes it from its folder: killed a moment after init(), it is still listed."""
    import signal
    import subprocess
    import textwrap

    from tests.conftest import PYTHON, python_env

    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent("""
        import os, signal
        from labbook import tracking
        from labbook.catalog.indexer import finish_pending
        first = tracking.init(project="k", track_env=False, track_code=False, track_logs=False)
        first.end()
        finish_pending()  # its last row written now, not an index interval later
        print("FIRST", first.uuid, flush=True)
        ended = tracking.init(project="k", name="ended", track_env=False, track_code=False, track_logs=False)
        ended.end()
        print("ENDED", ended.uuid, flush=True)
        run = tracking.init(project="k", name="killed", track_env=False, track_code=False, track_logs=False)
        print("RUN", run.uuid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # before the indexer thread's first row for it
    """))
    result = subprocess.run([PYTHON, str(script)], env=python_env(home), capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == -signal.SIGKILL, result.stderr
    printed = dict(line.split() for line in result.stdout.splitlines())
    first, ended, uuid = printed["FIRST"], printed["ENDED"], printed["RUN"]
    pending = home / ".catalog.db.pending"
    # the killed run's marker, and the ended run's: its last row was due an index interval later
    assert sorted(p.name for p in pending.iterdir()) == sorted([ended, uuid])
    with sa.create_engine(f"sqlite:///{home / 'catalog.db'}").connect() as conn:
        indexed = set(conn.execute(sa.text("SELECT uuid FROM runs")).scalars())
    assert indexed == {first}  # only the first run has its row

    rows = {row.uuid: row for row in labbook.search_runs("k")}
    assert rows[uuid].name == "killed" and rows[uuid].status == "running"  # crashed once stale
    assert rows[ended].name == "ended" and rows[ended].status == "succeeded"
    assert list(pending.iterdir()) == []  # indexed by the reader, the markers are gone
    assert labbook.get_run(uuid).name == "killed"


def test_a_run_marker_is_a_small_file_holding_its_folder(home):
    """The markers a run leaves are plain files holding its folder's path, not symbolic links:
    a link to a path this long takes a disk block, and freeing it when the marker goes costs a
    trim of that block, at every run's end, on a file system mounted with ``discard``."""
    project = "a-project-name-long-enough-that-no-link-fits-in-its-inode"
    run = Run(project=project, home=str(home), **QUIET)
    try:
        for kind in ("pending", "live"):
            marker = home / f".catalog.db.{kind}" / run.uuid
            assert not marker.is_symlink()
            assert marker.read_bytes() == os.fsencode(run.path)
    finally:
        run.end()
    finish_pending()  # the last row, due an index interval after end(), written now
    assert list((home / ".catalog.db.live").iterdir()) == []


def test_a_marker_left_as_a_symbolic_link_by_an_older_version_is_still_read(home):
    """Homes written by earlier versions hold markers that are symbolic links to the run folder."""
    run = Run(project="p", home=str(home), **QUIET)
    run.end()
    close_run_indexes()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{home / 'catalog.db'}{suffix}").unlink(missing_ok=True)
    Run(project="other", home=str(home), **QUIET).end()  # a new catalog without the first run
    close_run_indexes()
    pending = home / ".catalog.db.pending"
    pending.mkdir(exist_ok=True)
    (pending / run.uuid).symlink_to(run.path)
    assert run.uuid in {row.uuid for row in labbook.search_runs("p", home=home)}
    assert list(pending.iterdir()) == []


def test_a_reader_never_indexes_over_a_newer_row(home):
    """The reader's row from a marker is written only if the catalog's row is not from a newer
    run.json: a reader that read the folder before the run ended cannot undo its last row."""
    from labbook.catalog.indexer import index_run, mark_pending, pending_folder

    run = Run(project="p", home=str(home), **QUIET)
    stale_mtime = (run.path / "run.json").stat().st_mtime
    stale = read_run_file(run.path / "run.json")
    run.end()
    with Workspace(home=home) as workspace:
        catalog = workspace.catalog
        stale.update(path=str(run.path), metrics={})
        catalog.upsert_run(stale, run_file_mtime=stale_mtime, newer_only=True)  # the late reader
        assert workspace.search_runs("p")[0].status == "succeeded"
        folder = pending_folder(catalog.url)
        assert folder is not None
        mark_pending(folder, run.uuid, run.path)  # a marker left over: indexed, then removed
        index_run(catalog, run.path, newer_only=True)
        assert [row.status for row in workspace.search_runs("p")] == ["succeeded"]
        assert list(folder.iterdir()) == []


def test_the_listing_functions_reopen_a_catalog_file_that_was_replaced(home):
    """``labbook.search_runs`` keeps its workspace for the next call, but never reads a catalog
    file that is no longer the home's (a deleted one, or one a rebuild set aside)."""
    first = Run(project="p", home=str(home), **QUIET)
    first.end()
    assert [r.uuid for r in labbook.search_runs("p", home=home)] == [first.uuid]
    close_run_indexes()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{home / 'catalog.db'}{suffix}").unlink(missing_ok=True)
    second = Run(project="p", home=str(home), **QUIET)  # a new catalog, holding this run only
    second.end()
    assert [r.uuid for r in labbook.search_runs("p", home=home)] == [second.uuid]
    assert [p.name for p in labbook.list_projects(home=home)] == ["p"]


def test_a_change_in_the_same_clock_tick_as_the_last_index_is_not_missed(home):
    """A file's time stamp moves by the kernel's clock tick (milliseconds), so run.json can change
    after it was indexed and keep the same mtime: an incremental reindex must still read it."""
    run = Run(project="p", home=str(home), **QUIET)
    run.log_metric("loss", 0.5, step=0)
    run.end()
    run_file = run.path / "run.json"
    indexed = run_file.stat().st_mtime_ns
    update_run_file(run_file, [("set", "status", "failed")])
    os.utime(run_file, ns=(indexed, indexed))  # the same tick as the write the row was made from
    with Workspace(home=home) as workspace:
        workspace.reindex(full=False)
        assert workspace.search_runs("p")[0].status == "failed"
        assert workspace.get_run(run.uuid).status == "failed"


def _catalog_rows(home: Path) -> set[str]:
    """The run rows in the catalog file itself, read with the standard library (no reader's
    catching up with the marked runs first)."""
    import sqlite3

    path = home / "catalog.db"
    if not path.exists():  # the indexer thread has not made it yet
        return set()
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)  # never creates it
    try:
        return {uuid for (uuid,) in connection.execute("SELECT uuid FROM runs")}
    finally:
        connection.close()


def test_an_ended_runs_last_row_is_written_by_the_indexer_thread_within_an_interval(home, monkeypatch):
    """end() leaves the last row to the process's indexer thread: no reader needed for it to
    reach the catalog file, an index interval later, for every run ended meanwhile at once."""
    monkeypatch.setenv("LABBOOK_INDEX_INTERVAL", "0.2")
    runs = [Run(project="p", name=f"r{index}", home=str(home), **QUIET) for index in range(3)]
    for run in runs:
        run.end()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not {run.uuid for run in runs} <= _catalog_rows(home):
        time.sleep(0.05)
    assert {run.uuid for run in runs} <= _catalog_rows(home)
    assert list((home / ".catalog.db.pending").iterdir()) == []
    assert list((home / ".catalog.db.live").iterdir()) == []


def test_a_process_that_exits_writes_its_ended_runs_rows(home, tmp_path):
    """Runs ended just before a normal exit have their rows in the catalog file once the process
    is gone, without any reader, and leave no marker."""
    import subprocess
    import textwrap

    from tests.conftest import PYTHON, python_env

    script = tmp_path / "ends.py"
    script.write_text(textwrap.dedent("""
        from labbook import tracking
        for index in range(5):
            run = tracking.init(project="x", name=f"r{index}", track_env=False, track_code=False, track_logs=False)
            run.log_metric("loss", 1.0 / (index + 1), step=0)
            run.end()
            print("RUN", run.uuid, flush=True)
    """))
    result = subprocess.run([PYTHON, str(script)], env=python_env(home), capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    uuids = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("RUN ")}
    assert len(uuids) == 5 and _catalog_rows(home) == uuids
    assert list((home / ".catalog.db.pending").iterdir()) == []
    assert list((home / ".catalog.db.live").iterdir()) == []


def test_runs_indexed_together_stay_marked_when_their_transaction_fails(home):
    """The indexer thread writes the runs due in one transaction and removes their markers only
    once it is committed: a commit that fails leaves every one of them marked, for readers."""
    from labbook.catalog import keeper

    runs = [Run(project="p", home=str(home), **QUIET) for _ in range(3)]
    for run in runs:
        run.end()
    due = [run._indexer for run in runs]
    rows = due[0].rows()
    real = rows.transaction

    @contextlib.contextmanager
    def failing():
        with real():
            yield
            raise OSError("the disk went away at the commit")

    rows.transaction = failing
    try:
        keeper.index_together(due)
    finally:
        del rows.transaction
    marked = {p.name for p in (home / ".catalog.db.pending").iterdir()}
    assert marked == {run.uuid for run in runs}
    assert not marked & _catalog_rows(home)  # rolled back: no row without its marker's removal
    assert all("the disk went away" in error for item in due for error in item.errors)
    assert {row.uuid for row in labbook.search_runs("p", home=home)} == marked  # a reader indexes them
    assert list((home / ".catalog.db.pending").iterdir()) == []


def test_a_run_whose_lock_is_taken_is_left_to_the_next_pass(home):
    """A caller indexing its run holds the run's lock while it waits for the index; the thread's
    transaction holds the index. So the thread skips a run whose lock is taken (no deadlock) and
    asks for it again."""
    import threading

    from labbook.catalog import keeper

    runs = [Run(project="p", home=str(home), **QUIET) for _ in range(2)]
    for run in runs:
        run.end()
    busy, free = runs[0]._indexer, runs[1]._indexer
    busy._lock.acquire()
    try:
        worker = threading.Thread(target=keeper.index_together, args=([busy, free],))
        worker.start()
        worker.join(10)
        assert not worker.is_alive()
        assert _catalog_rows(home) == {runs[1].uuid}
    finally:
        busy._lock.release()
    finish_pending()  # the pass it was asked for again
    assert _catalog_rows(home) == {run.uuid for run in runs}


def test_finish_pending_waits_for_the_pass_the_thread_has_begun(home, monkeypatch):
    """``finish_pending()`` promises the rows owed are written when it returns. A run the indexer
    thread has already taken from the queue is not in it any more: finishing must wait for that
    pass to commit, not return while its row is still being written."""
    import threading

    from labbook.catalog import keeper

    real = keeper.index_together
    taken = threading.Event()

    def slow_on_the_thread(indexers):
        if threading.current_thread().name == "labbook-indexer":
            taken.set()
            time.sleep(1.0)  # the thread's pass, in flight while the caller finishes
        real(indexers)

    monkeypatch.setattr(keeper, "index_together", slow_on_the_thread)
    from labbook.config import Settings

    run = Run(project="p", settings=Settings.load({"index_interval": 0.1}, home=home), **QUIET)
    run.end()
    assert taken.wait(10)  # the thread has taken the ended run out of the queue
    finish_pending()
    assert _catalog_rows(home) == {run.uuid}


def test_the_indexer_thread_outlives_a_pass_that_fails(home, monkeypatch):
    """A pass whose catalog cannot be opened (a full disk while the thread creates it, say) is
    reported in the run's errors and leaves the run marked for readers; the process's one indexer
    thread goes on, and indexes the runs that end after it."""
    import threading

    from labbook.catalog import keeper
    from labbook.catalog.indexer import RunIndexer
    from labbook.config import Settings

    settings = Settings.load({"index_interval": 0.1}, home=home)
    real_rows = RunIndexer.rows
    failed = threading.Event()

    def rows_once_failing(self):
        if not failed.is_set():
            failed.set()
            raise OSError(28, "No space left on device")
        return real_rows(self)

    monkeypatch.setattr(RunIndexer, "rows", rows_once_failing)
    first = Run(project="p", settings=settings, **QUIET)
    first.end()
    assert failed.wait(10)
    second = Run(project="p", settings=settings, **QUIET)
    second.end()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and second.uuid not in _catalog_rows(home):
        time.sleep(0.05)
    assert second.uuid in _catalog_rows(home)  # written by the thread: it is still there
    assert keeper._keeper[0].thread.is_alive()
    assert any("No space left on device" in error for error in first._indexer.errors)
    assert first.uuid in {run.uuid for run in labbook.search_runs("p")}  # a reader indexes it from its marker
