"""Distributed runs: four processes started as a launcher would share one run."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

import labbook
from labbook.capture.distributed import group_key, local_rank, shared_run_uuid
from labbook.errors import NotFoundError
from tests.conftest import PYTHON, python_env

WORLD = 4

WORKER = """
    import os, sys, time
    from labbook import tracking
    rank = int(os.environ["RANK"])
    run = tracking.init(project="ddp", name="job", track_env=False, track_code=False,
                        resources_interval=0.2)
    print(f"RUN {run.uuid} rank {rank}", flush=True)
    print(f"hello from rank {rank}", flush=True)
    print(f"warning from rank {rank}", file=sys.stderr, flush=True)
    for step in range(3):
        tracking.log_metrics(step=step, loss=rank * 10 + step)
    go = os.environ["GO_FILE"]
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.05)
"""


def _launch(tmp_path: Path, home: Path, **extra_env: str):
    """Start WORLD workers like a launcher (rank 3 first, so it attaches before rank 0 exists)."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER))
    go = tmp_path / "go"
    children = {}
    try:
        for rank in reversed(range(WORLD)):
            env = python_env(home, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                             MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", GO_FILE=str(go), **extra_env)
            children[rank] = subprocess.Popen([PYTHON, str(script)], env=env, stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, cwd=tmp_path)
            if rank == WORLD - 1:  # wait until rank 3 made the run alone
                first = children[rank].stdout.readline()
                assert first.startswith("RUN "), children[rank].stderr.read()
        uuids = {first.split()[1]}
        for rank in range(WORLD - 1):
            line = children[rank].stdout.readline()
            assert line.startswith("RUN "), children[rank].stderr.read()
            uuids.add(line.split()[1])
        go.touch()
        for child in children.values():
            child.communicate(timeout=60)
            assert child.returncode == 0
    finally:
        for child in children.values():
            child.kill()
    return uuids


@pytest.mark.parametrize("rank_metrics", [pytest.param(None, id="rank0-default"),
                                          pytest.param("all", id="all-ranks")])
def test_four_ranks_make_one_run(tmp_path, home, rank_metrics):
    extra = {"LABBOOK_RANK_METRICS": rank_metrics} if rank_metrics else {}
    uuids = _launch(tmp_path, home, **extra)
    assert len(uuids) == 1
    record = labbook.get_run(uuids.pop())
    assert record.status == "succeeded"
    assert record.name == "job"
    assert len(labbook.search_runs("ddp")) == 1
    assert {int(r): v["status"] for r, v in record.raw["ranks"].items()} == {r: "succeeded" for r in range(WORLD)}
    assert record.raw["world_size"] == WORLD

    # logs: one file per rank, each rank's lines tagged with it
    assert len(list((record.path / "logs").glob("*.jsonl"))) == WORLD
    for rank in range(WORLD):
        lines = [(line.stream, line.message) for line in record.logs(rank=rank)]
        assert ("stdout", f"hello from rank {rank}") in lines
        assert ("stderr", f"warning from rank {rank}") in lines

    # resources: every process its own; machine-wide figures from local rank 0 only
    for rank in range(WORLD):
        assert len(record.resource("process.memory.rss", rank=rank)) >= 1
    cpu_ranks = record.resource("cpu.percent").ranks
    assert cpu_ranks is None  # a single writer: rank 0
    assert len(record.resource("cpu.percent", rank=0)) >= 1

    # metrics as configured
    if rank_metrics == "all":
        for rank in range(WORLD):
            assert list(record.metric("loss", rank=rank).values) == [rank * 10 + s for s in range(3)]
        merged = record.metric("loss")
        assert len(merged) == 3 * WORLD and sorted(set(merged.ranks)) == list(range(WORLD))
    else:
        assert list(record.metric("loss").values) == [0.0, 1.0, 2.0]
        with pytest.raises(NotFoundError):
            record.metric("loss", rank=1)


def test_a_failing_rank_fails_the_run(tmp_path, home):
    script = tmp_path / "fail.py"
    script.write_text(textwrap.dedent("""
        from labbook import tracking
        run = tracking.init(project="ddp", track_env=False, track_code=False, collect_resources=False)
        print("RUN", run.uuid, flush=True)
        raise SystemError("rank 1 lost its GPU")
    """))
    env = python_env(home, RANK="1", LOCAL_RANK="1", WORLD_SIZE="2", LABBOOK_RUN_GROUP="job-7")
    result = subprocess.run([PYTHON, str(script)], env=env, capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    record = labbook.get_run(result.stdout.split()[1])
    assert record.status == "failed"
    assert record.status_conditions[-1]["message"].startswith("rank 1: Traceback")
    assert record.raw["ranks"]["1"]["status"] == "failed"


@pytest.mark.parametrize("env, shared", [
    pytest.param({}, False, id="not-distributed"),
    pytest.param({"WORLD_SIZE": "1", "RANK": "0"}, False, id="world-of-one"),
    pytest.param({"LABBOOK_RUN_GROUP": "exp"}, True, id="group-alone"),
    pytest.param({"WORLD_SIZE": "8", "TORCHELASTIC_RUN_ID": "abc"}, True, id="torchelastic"),
    pytest.param({"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "8", "TORCHELASTIC_RUN_ID": "none"}, True,
                 id="torchrun-default-id-one-node"),
    pytest.param({"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "SLURM_JOB_ID": "9", "SLURM_STEP_ID": "0"},
                 True, id="slurm-multi-node"),
    pytest.param({"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "TORCHELASTIC_RUN_ID": "none"}, False,
                 id="multi-node-without-an-id"),
    pytest.param({"WORLD_SIZE": "8", "RANK": "5", "LOCAL_RANK": "1"}, False,
                 id="second-node-of-a-launcher-without-local-world-size"),
])
def test_shared_run_uuid(env, shared, capsys):
    first = shared_run_uuid("p", env)
    assert (first is not None) == shared
    if shared:
        assert first == shared_run_uuid("p", dict(env)) and len(first) == 32
        assert shared_run_uuid("other", env) != first
    elif env.get("WORLD_SIZE", "1") != "1":
        assert "LABBOOK_RUN_GROUP" in capsys.readouterr().err


def test_group_keys_tell_jobs_apart():
    assert group_key({"WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "a"}) != group_key(
        {"WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "b"})
    assert group_key({"LABBOOK_RUN_GROUP": "x", "WORLD_SIZE": "2", "TORCHELASTIC_RUN_ID": "a"}) == "group/x"
    assert local_rank({"RANK": "5", "LOCAL_RANK": "1"}) == 1
    assert local_rank({"RANK": "3"}) == 3
