"""Reading what is there, whatever state it is in: a damaged catalog, a damaged run.json, a
read-only home, a home that does not exist. Reads never crash with a traceback and never create
or change anything; ``labbook index --rebuild`` recovers from a damaged catalog."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import labbook
from labbook.catalog import indexer
from labbook.cli.main import cli
from labbook.errors import CatalogDamagedError, LabbookError, NotFoundError, RunFileError
from labbook.tracking.run import Run
from tests.conftest import require


def _log(name: str, home: Path | None = None) -> Run:
    run = Run(project="rec", name=name, home=home, install_handlers=False, track_env=False,
              track_code=False, track_logs=False, collect_resources=False)
    run.log_inputs(lr=0.1)
    run.log_metric("loss", 0.5, step=1)
    run.end()
    return run


def _damage(catalog: Path, how: str) -> None:
    indexer.close_run_indexes()  # as a new process finds the home: this one's run rows written, the WAL checkpointed
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    data = bytearray(catalog.read_bytes())
    if how == "not-a-database":
        data[:100] = b"\xff" * 100  # the header is gone
    else:  # every page after the first is garbage: the schema is there, the tables are not
        data[4096:] = b"\xa5" * (len(data) - 4096)
    catalog.write_bytes(bytes(data))


def _cli(*args: str):
    return CliRunner().invoke(cli, list(args))


def _no_traceback(result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


DAMAGE = [pytest.param("not-a-database", id="not-a-database"), pytest.param("malformed", id="malformed")]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_catalog_says_so_and_how_to_recover(home, how):
    run = _log("a")
    _damage(home / "catalog.db", how)
    for read in (lambda: labbook.get_run(run.uuid), lambda: labbook.search_runs("rec")):
        with pytest.raises(CatalogDamagedError, match="labbook index --rebuild") as error:
            read()
        assert str(home / "catalog.db") in str(error.value)
    for args in (["runs", "ls"], ["runs", "show", run.uuid], ["index"]):
        result = _cli(*args)
        assert result.exit_code == 1, result.output
        _no_traceback(result)
        assert "damaged" in result.output and "labbook index --rebuild" in result.output


@pytest.mark.parametrize("how", DAMAGE)
def test_rebuild_sets_a_damaged_catalog_aside_and_builds_a_new_one(home, how):
    runs = [_log("a"), _log("b")]
    _damage(home / "catalog.db", how)
    damaged_bytes = (home / "catalog.db").read_bytes()
    result = _cli("index", "--rebuild")
    assert result.exit_code == 0, result.output
    _no_traceback(result)
    aside = list(home.glob("catalog.db.damaged-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))], list(home.iterdir())
    main = next(p for p in aside if not p.name.endswith(("-wal", "-shm")))
    assert main.read_bytes() == damaged_bytes  # kept as it was, for whoever wants to look
    assert "damaged" in result.output and main.name in result.output
    assert "2 run folders, 2 indexed" in result.output
    assert sorted(r.name for r in labbook.search_runs("rec")) == ["a", "b"]
    assert labbook.get_run(runs[0].uuid).inputs == {"lr": 0.1}
    assert _cli("runs", "ls").exit_code == 0


def test_a_damaged_run_file_is_named_and_skipped(home):
    good, bad = _log("good"), _log("bad")
    run_file = bad.path / "run.json"
    run_file.write_bytes(run_file.read_bytes()[:40])  # truncated mid-way
    with pytest.raises(RunFileError) as error:
        labbook.get_run(bad.uuid)
    message = str(error.value)
    assert str(run_file) in message and "damaged" in message and "Restore" in message
    result = _cli("runs", "show", bad.uuid)
    assert result.exit_code == 1 and str(run_file) in result.output
    _no_traceback(result)
    # one damaged run never breaks listing or rebuilding the others
    assert _cli("runs", "ls").exit_code == 0
    result = _cli("index", "--rebuild")
    assert result.exit_code == 0, result.output
    _no_traceback(result)
    assert f"Skipped {bad.path}" in result.output and "1 unreadable" in result.output
    assert [r.name for r in labbook.search_runs("rec")] == ["good"]
    from labbook.config import Settings

    result = indexer.rebuild_home(Settings.load({}))
    assert [(folder, type(error)) for folder, error in result["skipped"]] == [(bad.path, RunFileError)]
    listing = _cli("runs", "ls")
    assert listing.exit_code == 0 and "good" in listing.output
    assert labbook.get_run(good.uuid).name == "good"
    # resuming it refuses with the same message, before anything is written
    before = run_file.read_bytes()
    with pytest.raises(RunFileError) as resumed:
        Run(project="rec", run_uuid=bad.uuid, install_handlers=False, track_env=False,
            track_code=False, track_logs=False, collect_resources=False)
    assert str(resumed.value) == message
    assert run_file.read_bytes() == before


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2]", id="not-an-object"),
    pytest.param(b'{"uuid": "x"}', id="no-format"),
])
def test_run_files_that_are_not_run_files(home, content):
    run = _log("x")
    (run.path / "run.json").write_bytes(content)
    with pytest.raises(RunFileError, match="run.json is damaged"):
        labbook.get_run(run.uuid)


@pytest.fixture
def read_only_home(small_disk, monkeypatch):
    """A home with two runs on a file system then remounted read-only (root ignores mode bits)."""
    home = small_disk.path / ".labbook"
    monkeypatch.setenv("LABBOOK_HOME", str(home))
    runs = [_log("a", home), _log("b", home)]  # ended runs and closed workspaces leave no catalog open
    indexer.close_run_indexes()  # but for the logging process's own row writer, kept for its next run: as a new process finds it
    done = subprocess.run(["mount", "-o", "remount,ro", str(small_disk.path)], capture_output=True, text=True)
    require(done.returncode == 0, f"cannot remount a tmpfs read-only: {done.stderr.strip()}")
    try:
        yield home, runs
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk.path)], capture_output=True)


def test_reads_work_on_a_read_only_home(read_only_home):
    home, runs = read_only_home
    before = sorted(p.name for p in home.iterdir())
    with pytest.raises(OSError):
        (home / "probe").write_text("x")  # the home really is read-only
    assert labbook.get_run(runs[0].uuid).name == "a"
    assert labbook.get_run(runs[0].uuid[:8]).metric("loss").values.tolist() == [0.5]
    assert sorted(r.name for r in labbook.search_runs("rec")) == ["a", "b"]
    assert labbook.list_artifacts("rec") == []
    result = _cli("runs", "ls")
    assert result.exit_code == 0, result.output
    assert "a" in result.output and "b" in result.output
    assert _cli("runs", "show", runs[1].uuid).exit_code == 0
    assert sorted(p.name for p in home.iterdir()) == before


def test_writing_to_a_read_only_catalog_is_a_clear_error(read_only_home):
    home, runs = read_only_home
    result = _cli("index")
    assert result.exit_code == 1, result.output
    _no_traceback(result)
    assert "read-only" in result.output


def test_a_missing_home_is_an_error_and_is_not_created(tmp_path):
    typo = tmp_path / "typo" / ".labbook"
    result = _cli("--home", str(typo), "runs", "ls")
    assert result.exit_code == 1
    _no_traceback(result)
    assert str(typo) in result.output and "No labbook home" in result.output
    for args in (["artifacts", "ls"], ["index", "--rebuild"], ["lineage", "f" * 32], ["logs", "f" * 32]):
        result = _cli("--home", str(typo), *args)
        assert result.exit_code == 1 and str(typo) in result.output, (args, result.output)
    reads = [
        lambda: labbook.get_run("f" * 32, home=typo),
        lambda: labbook.search_runs(home=typo),
        lambda: labbook.list_artifacts(home=typo),
        lambda: labbook.get_artifact("store://artifacts/p/k", home=typo),
        lambda: labbook.get_lineage("store://artifacts/p/k", home=typo),
    ]
    for read in reads:
        with pytest.raises(NotFoundError, match="No labbook home") as error:
            read()
        assert str(typo) in str(error.value)
        assert isinstance(error.value, LabbookError)
    assert not typo.exists() and not typo.parent.exists()


def test_the_default_home_is_not_created_by_a_read(tmp_path, monkeypatch):
    monkeypatch.delenv("LABBOOK_HOME")
    result = _cli("runs", "ls")
    assert result.exit_code == 1 and "No labbook home" in result.output
    assert not (Path.cwd() / ".labbook").exists()


def test_error_messages_show_control_characters_escaped(tmp_path):
    odd = tmp_path / "odd\x1b[2Jhome"
    result = _cli("--home", str(odd), "runs", "ls")
    assert result.exit_code == 1
    assert "\x1b" not in result.output and "odd\\x1b[2Jhome" in result.output
