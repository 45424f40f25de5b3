"""Forked children of a logging process: multiprocessing pools and PyTorch DataLoader workers.

Each case runs in its own Python process under a timeout, so a deadlock fails the test instead
of hanging the suite, and repeats 20 times inside that process: the failures these guard against
(a torn series, a lock inherited while held, a child ending the parent's run) are races.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

import labbook
from tests.conftest import PYTHON, python_env, require

REPEATS = 20
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # each script has its own, shorter timeout

# Shared by every script below: start a run with everything a real one has (process hooks, log
# capture, resources, heartbeat), log 10 points, and check what was read back at the end.
PRELUDE = """
    import json, multiprocessing, os, sys, time
    import labbook
    from labbook import tracking

    FAST = dict(resources_interval=0.1, flush_interval=0.05)  # the shortest sampling interval allowed

    def start():
        run = tracking.init(project="forks", track_env=False, track_code=False, **FAST)
        for i in range(10):
            tracking.log_metric("parent", float(i), step=i)
        return run

    def quiet(i):
        return i * i

    def logging_worker(i):
        tracking.log_metric("child", float(i), step=i)
        tracking.log_text("note", f"from {os.getpid()}", step=i)
        return os.getpid()

    def report(run, **extra):
        print("RUN", run.uuid, json.dumps(extra), flush=True)
"""


def _run(tmp_path: Path, home: Path, body: str, timeout: float = 500) -> list[tuple[str, dict]]:
    script = tmp_path / "fork_script.py"
    script.write_text(textwrap.dedent(PRELUDE) + textwrap.dedent(body))
    try:
        done = subprocess.run([PYTHON, str(script)], env=python_env(home), capture_output=True,
                              text=True, timeout=timeout, cwd=tmp_path)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"the script hung (deadlock?) for {timeout} s; output so far: {error.stdout!r:.2000}")
    assert done.returncode == 0, done.stderr[-4000:]
    assert "writer error" not in done.stderr, done.stderr[-4000:]
    runs = []
    for line in done.stdout.splitlines():
        if line.startswith("RUN "):
            _, uuid, extra = line.split(" ", 2)
            runs.append((uuid, json.loads(extra)))
    assert len(runs) == REPEATS, done.stdout[-2000:]
    return runs


def _check_parent(uuid: str) -> labbook.runs.RunRecord:
    record = labbook.get_run(uuid)
    parent = record.metric("parent")
    assert parent.steps.tolist() == list(range(10))  # nothing torn, nothing duplicated
    assert parent.values.tolist() == [float(i) for i in range(10)]
    assert record.status == "succeeded"  # the parent's status: no child stopped or ended it
    assert [c["status"] for c in record.status_conditions] == ["running", "succeeded"]
    return record


def _check_children(record, pids: list[int]) -> None:
    child = record.metric("child")
    assert sorted(child.values.tolist()) == [float(i) for i in range(4)]
    files = sorted((record.path / "events" / "metric" / "child").glob("*.lbm"))
    writers = {p.stem for p in files}
    assert {int(w.split("-")[1]) for w in writers} == set(pids)  # <rank>-<child pid>-<hex>
    assert all(w.startswith("0-") and len(w.split("-")[2]) == 6 for w in writers)
    for path in files:  # each child's file: its own header, then its own records only
        assert path.read_bytes().count(b'"format":"labbook.events"') == 1
    notes = record.events("text", "note")
    assert sorted(e.step for e in notes) == list(range(4))
    assert all(e.value == f"from {e.writer.split('-')[1]}" for e in notes)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_pool_workers_that_do_not_log_leave_the_run_alone(tmp_path, home, context):
    runs = _run(tmp_path, home, f"""
        if __name__ == "__main__":
            for _ in range({REPEATS}):
                run = start()
                with multiprocessing.get_context({context!r}).Pool(2) as pool:
                    assert pool.map(quiet, range(4)) == [0, 1, 4, 9]
                tracking.end()
                report(run)
    """)
    for uuid, _ in runs:
        record = _check_parent(uuid)
        assert record.metric_names() == ["parent"]


def test_fork_pool_workers_that_log_become_their_own_writers(tmp_path, home):
    runs = _run(tmp_path, home, f"""
        if __name__ == "__main__":
            for _ in range({REPEATS}):
                run = start()
                ctx = multiprocessing.get_context("fork")
                with ctx.Pool(2) as pool:
                    pids = pool.map(logging_worker, range(4))
                    pool.close()
                    pool.join()
                tracking.end()
                report(run, pids=sorted(set(pids)))
    """)
    for uuid, extra in runs:
        record = _check_parent(uuid)
        _check_children(record, extra["pids"])


def test_terminated_fork_workers_never_stop_the_parents_run(tmp_path, home):
    # Pool.terminate() sends SIGTERM to every worker, which inherited the run's SIGTERM handler.
    runs = _run(tmp_path, home, f"""
        if __name__ == "__main__":
            for _ in range({REPEATS}):
                run = start()
                pool = multiprocessing.get_context("fork").Pool(2)
                pool.map(quiet, range(4))
                pool.terminate()
                pool.join()
                tracking.log_metric("after", 1.0, step=0)
                tracking.end()
                report(run)
    """)
    for uuid, _ in runs:
        record = _check_parent(uuid)
        assert record.metric("after").values.tolist() == [1.0]


def test_plain_fork_child_that_exits_normally_keeps_its_points_and_not_the_status(tmp_path, home):
    # os.fork() and a child returning normally: Python runs the inherited atexit hooks there.
    runs = _run(tmp_path, home, f"""
        if __name__ == "__main__":
            for _ in range({REPEATS}):
                run = start()
                pid = os.fork()
                if pid == 0:
                    for i in range(4):
                        logging_worker(i)
                    try:
                        tracking.log_failed(message="from a child")
                    except labbook.errors.RunStateError:
                        sys.exit(0)  # atexit runs: must not end the parent's run
                    sys.exit(3)
                assert os.waitpid(pid, 0)[1] == 0  # the child's status call was refused
                assert run.status == "running"
                on_disk = json.loads((run.path / "run.json").read_text())["status"]
                assert on_disk == "running", on_disk
                tracking.end()
                report(run, pids=[pid])
    """)
    for uuid, extra in runs:
        record = _check_parent(uuid)
        _check_children(record, extra["pids"])


def test_dataloader_workers_after_init(tmp_path, home):
    require(importlib.util.find_spec("torch") is not None,
            "PyTorch is not installed: pip install torch==2.13.0 (the test extra has it)")
    runs = _run(tmp_path, home, f"""
        import torch
        from torch.utils.data import DataLoader, Dataset

        class Numbers(Dataset):
            def __init__(self, log):
                self.log = log
            def __len__(self):
                return 8
            def __getitem__(self, i):
                if self.log:
                    tracking.log_metric("child", float(i), step=i)
                return torch.tensor([float(i)])

        if __name__ == "__main__":
            torch.set_num_threads(1)
            for repeat in range({REPEATS}):
                run = start()
                log = repeat % 2 == 1  # half the runs: workers that log too
                loader = DataLoader(Numbers(log), batch_size=2, num_workers=2,
                                    multiprocessing_context="fork")
                total = sum(float(batch.sum()) for batch in loader)
                assert total == 28.0
                for i, batch in enumerate(loader):  # a second epoch: fresh workers
                    tracking.log_metric("epoch2", float(batch.sum()), step=i)
                tracking.end()
                report(run, log=log)
    """)
    for uuid, extra in runs:
        record = _check_parent(uuid)
        assert record.metric("epoch2").values.tolist() == [1.0, 5.0, 9.0, 13.0]
        if extra["log"]:
            child = record.metric("child")
            # two epochs, each point logged once by the worker that loaded it
            assert np.array_equal(np.sort(child.values), np.repeat(np.arange(8.0), 2))
            assert len({p.stem for p in (record.path / "events/metric/child").glob("*.lbm")}) >= 2
        else:
            assert "child" not in record.metric_names()
