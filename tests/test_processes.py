"""Runs logged from real child processes: crashes, signals, exit hooks, concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import labbook
from labbook.tracking.run import Run
from tests.conftest import PYTHON, python_env


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(body))
    return path


def _run_script(tmp_path, home, body, timeout=60, **env):
    script = _script(tmp_path, body)
    return subprocess.run([PYTHON, str(script)], env=python_env(home, **env), capture_output=True,
                          text=True, timeout=timeout, cwd=tmp_path)


def _uuid_from(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("RUN "))


def test_sigkill_loses_nothing_older_than_the_flush_interval(tmp_path, home):
    flush_interval = 0.5
    script = _script(tmp_path, """
        import sys
        from labbook import tracking
        run = tracking.init(project="crash", track_env=False, track_code=False)
        print("RUN", run.uuid, flush=True)
        i = 0
        while True:
            tracking.log_metric("loss", float(i), step=i)
            i += 1
    """)
    child = subprocess.Popen(
        [PYTHON, str(script)], env=python_env(home, LABBOOK_FLUSH_INTERVAL=str(flush_interval),
                                              LABBOOK_MAX_PENDING="200000"),
        stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        uuid = child.stdout.readline().split()[1]
        time.sleep(3)
        killed_at = datetime.now(timezone.utc)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
        child.stdout.close()
    record = labbook.get_run(uuid)
    series = record.metric("loss")
    count = len(series)
    assert count > 1000
    # Every point is there, in order, none torn: steps and values are exactly 0..count-1.
    assert np.array_equal(series.steps, np.arange(count))
    assert np.array_equal(series.values, np.arange(count, dtype=float))
    last = series.timestamps[-1].astype("datetime64[us]").astype(datetime).replace(tzinfo=timezone.utc)
    # What was logged more than one flush interval before the kill was written (with slack for a
    # loaded machine's scheduling).
    assert (killed_at - last).total_seconds() < flush_interval + 1.5
    assert record.status in ("running", "crashed")  # never "succeeded": it did not finish
    assert record.finished_at is None


def test_four_processes_log_to_one_run(tmp_path, home):
    parent = Run(project="multi", install_handlers=False, track_env=False, track_code=False)
    script = _script(tmp_path, """
        import os, sys
        from labbook import tracking
        worker = int(sys.argv[1])
        tracking.init(project="multi", track_env=False, track_code=False)  # attaches via LABBOOK_RUN_UUID
        for i in range(50_000):
            tracking.log_metric("x", worker * 1_000_000 + i, step=i)
        tracking.log_text("hello", f"from {worker}", step=worker)
        tracking.end()
    """)
    env = python_env(home, LABBOOK_RUN_UUID=parent.uuid)
    children = [subprocess.Popen([PYTHON, str(script), str(w)], env=env, cwd=tmp_path)
                for w in range(4)]
    for child in children:
        assert child.wait(timeout=120) == 0
    parent.end()
    record = labbook.get_run(parent.uuid)
    series = record.metric("x")
    assert len(series) == 200_000
    expected = np.sort(np.concatenate([w * 1_000_000 + np.arange(50_000) for w in range(4)]))
    assert np.array_equal(np.sort(series.values), expected.astype(float))
    assert sorted(e.value for e in record.events("text", "hello")) == [f"from {w}" for w in range(4)]
    assert len(list((Path(record.path) / "events" / "metric" / "x").iterdir())) == 4
    assert record.summaries["x"]["count"] == 200_000
    assert record.summaries["x"]["max"] == 3_049_999


def test_script_without_end_is_finished_at_exit(tmp_path, home):
    result = _run_script(tmp_path, home, """
        from labbook import tracking
        run = tracking.init(project="exit")
        print("RUN", run.uuid)
        tracking.log_metric("m", 1.0, step=1)
    """)
    assert result.returncode == 0, result.stderr
    record = labbook.get_run(_uuid_from(result.stdout))
    assert record.status == "succeeded"
    assert record.metric("m").values.tolist() == [1.0]
    assert record.env["entry_file"].endswith("script.py")


def test_uncaught_exception_fails_the_run_and_keeps_the_traceback(tmp_path, home):
    result = _run_script(tmp_path, home, """
        from labbook import tracking
        run = tracking.init(project="boom")
        print("RUN", run.uuid, flush=True)
        tracking.log_metric("m", 2.0, step=1)
        raise RuntimeError("diverged at step 1")
    """)
    assert result.returncode == 1
    assert "diverged at step 1" in result.stderr  # the user's own excepthook output still shows
    record = labbook.get_run(_uuid_from(result.stdout))
    assert record.status == "failed"
    assert "RuntimeError: diverged at step 1" in record.status_conditions[-1]["message"]
    assert record.metric("m").values.tolist() == [2.0]


def test_sigterm_stops_the_run_and_flushes(tmp_path, home):
    script = _script(tmp_path, """
        import time
        from labbook import tracking
        run = tracking.init(project="term", flush_interval=30)
        for i in range(100):
            tracking.log_metric("m", float(i), step=i)
        print("RUN", run.uuid, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([PYTHON, str(script)], env=python_env(home), stdout=subprocess.PIPE,
                             text=True, cwd=tmp_path)
    uuid = child.stdout.readline().split()[1]
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == -signal.SIGTERM
    child.stdout.close()
    record = labbook.get_run(uuid)
    assert record.status == "stopped"
    assert record.status_conditions[-1]["reason"] == "SIGTERM"
    assert len(record.metric("m")) == 100  # flushed although the interval was 30 s


def test_code_version_of_the_scripts_repository(tmp_path, home):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.email=a@b.c", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "train.py").write_text(textwrap.dedent("""
        from labbook import tracking
        from labbook.store.runfile import read_run_file
        run = tracking.init(project="code")
        print("RUN", run.uuid)
        from labbook.writer.writer import RunWriter
        tracking.end()
        queued = []  # what is written to run.json after init()'s first write
        update_run = RunWriter.update_run
        RunWriter.update_run = lambda self, *ops: (queued.extend(op[1] for op in ops), update_run(self, *ops))
        second = tracking.init(project="code")  # git is not asked again, nor are the packages listed:
        second.flush()                          # init() writes them with its first write of run.json
        first_write = read_run_file(second.path / "run.json")
        print("SECOND", second.uuid, first_write["code"].get("commit"), len(first_write["env"]),
              "code" in queued or "env" in queued)
    """))
    subprocess.run([*git, "add", "train.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://alice:s3cret@example.com/team/repo.git"],
                   check=True)
    with open(repo / "train.py", "a") as handle:
        handle.write("# tuned\n")
    (repo / "notes.txt").write_text("untracked")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([PYTHON, str(repo / "train.py")], env=python_env(home), cwd=elsewhere,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    record = labbook.get_run(_uuid_from(result.stdout))
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    code = record.code
    assert code["commit"] == commit and code["branch"] == "main"
    assert code["remote"] == "https://example.com/team/repo.git"  # credentials stripped
    assert code["dirty"] is True and code["untracked"] == ["notes.txt"]
    diff = (Path(record.path) / code["diff_path"]).read_text()
    assert "+# tuned" in diff
    assert record.env["cwd"] == str(elsewhere)
    assert record.env["packages"]["numpy"] == np.__version__
    # the process's next run records the same code and environment with its first write
    second_uuid, first_commit, env_keys, written_later = next(
        line.split()[1:] for line in result.stdout.splitlines() if line.startswith("SECOND "))
    assert first_commit == commit and int(env_keys) == len(record.env) and written_later == "False"
    second = labbook.get_run(second_uuid)
    assert second.code == code and (Path(second.path) / code["diff_path"]).read_text() == diff
    assert {k: v for k, v in second.env.items() if k != "pid"} == {k: v for k, v in record.env.items() if k != "pid"}


def test_a_run_starts_when_its_environment_cannot_be_read(home, monkeypatch, capsys):
    """A run after the first records the environment with its first write of run.json; where
    that fails (the working directory deleted under the process), ``init()`` still starts the
    run and the flusher thread's capture reports the failure at ``end()``, as it always has."""

    quiet = dict(track_code=False, track_logs=False, collect_resources=False, install_handlers=False)
    first = Run(project="env", home=str(home), **quiet)
    first.end()
    assert labbook.get_run(first.uuid).env["cwd"] == os.getcwd()

    def gone():
        raise FileNotFoundError(2, "No such file or directory")

    with monkeypatch.context() as patch:
        patch.setattr(os, "getcwd", gone)
        second = Run(project="env", home=str(home), **quiet)  # started all the same
        second.log_metric("loss", 0.5, step=0)
        second.end()
    assert "writer error(s); first: FileNotFoundError" in capsys.readouterr().err
    record = labbook.get_run(second.uuid)
    assert record.status == "succeeded" and len(record.metric("loss")) == 1 and record.env == {}
