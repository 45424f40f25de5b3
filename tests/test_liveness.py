"""Liveness: heartbeats, ``crashed`` after a SIGKILL, and resuming a crashed run."""

from __future__ import annotations

import signal
import subprocess
import textwrap
import time
from datetime import datetime, timedelta, timezone

import pytest

import labbook
from labbook.capture.liveness import crash_timeout, last_heartbeat, reported_status
from labbook.catalog.indexer import finish_pending
from labbook.config import Settings
from labbook.tracking.run import Run
from tests.conftest import PYTHON, python_env


def _wait_for(condition, what: str, limit: float = 60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_a_sigkilled_run_reads_as_crashed_after_the_timeout_and_can_be_resumed(tmp_path, home, monkeypatch):
    script = tmp_path / "forever.py"
    script.write_text(textwrap.dedent("""
        import time
        from labbook import tracking
        run = tracking.init(project="live", track_env=False, track_code=False)
        tracking.log_metric("loss", 0.5, step=0)
        run.flush()
        print("RUN", run.uuid, flush=True)
        while True:
            time.sleep(0.05)
    """))
    env = python_env(home, LABBOOK_HEARTBEAT_INTERVAL="0.2", LABBOOK_CRASH_TIMEOUT="2")
    child = subprocess.Popen([PYTHON, str(script)], env=env, stdout=subprocess.PIPE, text=True,
                             cwd=tmp_path)
    try:
        uuid = child.stdout.readline().split()[1]
        monkeypatch.setenv("LABBOOK_CRASH_TIMEOUT", "2")
        monkeypatch.setenv("LABBOOK_HEARTBEAT_INTERVAL", "0.2")  # the reader shares the writer's settings
        assert labbook.get_run(uuid).status == "running"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.stdout.close()
    _wait_for(lambda: labbook.get_run(uuid).status == "crashed", "the run to read as crashed")
    assert labbook.get_run(uuid).raw["status"] == "running"  # the record itself is left as it was
    assert [row.status for row in labbook.search_runs("live")] == ["crashed"]
    assert [r.uuid for r in labbook.search_runs("live", filter="status = 'crashed'")] == [uuid]
    assert labbook.search_runs("live", filter="status = 'running'") == []
    assert [r.uuid for r in labbook.search_runs("live", filter="status in ('crashed', 'failed')")] == [uuid]

    resumed = Run(run_uuid=uuid, install_handlers=False, track_env=False, track_code=False,
                  track_logs=False, collect_resources=False)
    assert labbook.get_run(uuid).status == "running"
    resumed.log_metric("loss", 0.25, step=1)
    resumed.end()
    record = labbook.get_run(uuid)
    assert record.status == "succeeded"
    assert list(record.metric("loss").values) == [0.5, 0.25]


def test_heartbeat_file_and_heartbeat_at_are_kept(run_factory):
    run = run_factory()
    run.flush()
    record = labbook.get_run(run.uuid)
    assert record.heartbeat_at is not None
    assert record.raw["liveness"]["heartbeat_interval"] == Settings.load({}).heartbeat_interval
    assert list((run.path / "heartbeat").glob("*.json"))
    run.end()
    assert labbook.get_run(run.uuid).status == "succeeded"


NOW = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()


def _ago(seconds: float) -> str:
    return (datetime.fromtimestamp(NOW, timezone.utc) - timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize("record, expected", [
    pytest.param({"status": "running", "heartbeat_at": _ago(5)}, "running", id="fresh"),
    pytest.param({"status": "running", "heartbeat_at": _ago(61)}, "crashed", id="stale"),
    pytest.param({"status": "running"}, "running", id="no-heartbeat-known"),
    pytest.param({"status": "succeeded", "heartbeat_at": _ago(3600)}, "succeeded", id="finished"),
    pytest.param({"status": "running", "heartbeat_at": _ago(100), "liveness": {"heartbeat_interval": 40}},
                 "running", id="slow-heartbeat-gets-three-beats"),
    pytest.param({"status": "running",
                  "heartbeat_at": datetime.fromtimestamp(NOW - 90, timezone.utc).replace(tzinfo=None)},
                 "crashed", id="naive-utc-from-a-catalog"),
])
def test_reported_status(record, expected):
    settings = Settings.load({"crash_timeout": 60})
    assert reported_status(record, now=NOW, settings=settings) == expected


def test_the_newest_heartbeat_file_wins_over_an_older_record(tmp_path):
    beat = tmp_path / "heartbeat" / "0-1-a.json"
    beat.parent.mkdir()
    beat.write_text("{}")
    record = {"status": "running", "path": str(tmp_path), "heartbeat_at": _ago(1000)}
    assert last_heartbeat(record) == pytest.approx(beat.stat().st_mtime)
    assert crash_timeout({"liveness": {"heartbeat_interval": 100}}, Settings.load({})) == 300


def test_a_killed_runs_last_values_reach_the_listing_once_its_writer_is_gone(tmp_path, home, monkeypatch):
    # The run's own indexer writes its row at start and then at most every index interval; a
    # process killed within that interval never writes the row again. The listing catches up.
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent("""
        import os, signal, time
        from labbook import tracking
        run = tracking.init(project="killed", track_env=False, track_code=False, track_logs=False)
        time.sleep(1.0)  # its first row is written meanwhile
        for step in range(100):
            tracking.log_metrics(step=step, loss=1.0 / (step + 1))
        run.flush()
        print("RUN", run.uuid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """))
    env = python_env(home, LABBOOK_HEARTBEAT_INTERVAL="0.2", LABBOOK_INDEX_INTERVAL="600")
    child = subprocess.run([PYTHON, str(script)], env=env, capture_output=True, text=True, cwd=tmp_path,
                           timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    uuid = child.stdout.split()[1]
    monkeypatch.setenv("LABBOOK_HEARTBEAT_INTERVAL", "0.2")
    time.sleep(1.0)  # more than 3 heartbeat intervals: the writer is gone
    [row] = labbook.search_runs("killed")
    assert row.uuid == uuid
    assert row.summaries["loss"]["last"] == pytest.approx(0.01)
    assert row.summaries["loss"]["count"] == 100


def test_an_ended_run_leaves_no_live_marker(home):
    run = Run(project="ended", install_handlers=False, track_env=False, track_code=False,
              track_logs=False, collect_resources=False)
    live = home / ".catalog.db.live"
    assert [p.name for p in live.iterdir()] == [run.uuid]  # its row may lag its folder meanwhile
    run.log_metric("loss", 0.5, step=0)
    run.end()
    # Its last row is due an index interval later, off end()'s path: meanwhile the run is marked
    # pending, so a reader indexes it before it reads, and reads it ended.
    assert [p.name for p in (home / ".catalog.db.pending").iterdir()] == [run.uuid]
    finish_pending()  # what the indexer thread does then (or the process's exit)
    assert list(live.iterdir()) == [] and list((home / ".catalog.db.pending").iterdir()) == []
    row = labbook.search_runs("ended")[0]
    assert row.status == "succeeded" and row.summaries["loss"]["last"] == 0.5  # current from now on
