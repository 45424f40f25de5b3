"""``Run`` is one class: its methods are its own (inherited from typed mixins, never attached with
``setattr``), its rank policy is an object it consults, and ``Run(...)`` always returns a ``Run``."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import labbook
from labbook import tracking
from labbook.capture.distributed import RankPolicy
from labbook.store.runfile import read_run_file
from labbook.tracking.run import NoOpRun, Run

SOURCE = Path(labbook.__file__).parent


def test_every_forwarded_method_is_defined_in_a_class_body():
    for name in tracking.FORWARDED:
        owner = next(cls for cls in Run.__mro__ if name in vars(cls))
        assert owner.__module__.startswith("labbook."), name
        assert getattr(Run, name).__qualname__ == f"{owner.__name__}.{name}"


def test_nothing_is_attached_to_run_or_its_instances(run_factory):
    code = "\n".join(path.read_text() for path in SOURCE.rglob("*.py"))
    assert not re.search(r"setattr\(\s*(Run|run|self)\b", code)
    assert not re.search(r"\brun\.log_\w+\s*=[^=]", code)
    run = run_factory()
    assert not [name for name in vars(run) if not name.startswith("_")
                and callable(vars(run)[name])]


def test_no_package_reaches_into_a_runs_private_parts():
    """Outside the packages that define Run's methods (tracking, and the media and artifact
    mixins typed against RunSurface), nothing reads run._writer, run._folder, run._record ..."""
    pattern = re.compile(r"\b(run|_run|self\.run|self\._run)\._(writer|folder|record|settings|closers|indexer)\b")
    own = ("tracking/", "media/", "artifacts/", "writer/surface.py")
    found = [f"{path.relative_to(SOURCE)}:{number}"
             for path in SOURCE.rglob("*.py") if not path.relative_to(SOURCE).as_posix().startswith(own)
             for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


@pytest.mark.parametrize("no_op", [pytest.param(False, id="run"), pytest.param(True, id="no-op")])
def test_run_returns_a_run_and_a_misspelt_method_raises(home, no_op):
    run = Run(project="p", no_op=no_op, install_handlers=False, track_code=False, track_env=False,
              track_logs=False, collect_resources=False)
    assert isinstance(run, Run)
    assert isinstance(run, NoOpRun) is no_op
    with pytest.raises(AttributeError, match="log_metirc"):
        run.log_metirc("loss", 1.0)  # type: ignore[attr-defined]
    assert run.log_metric("loss", 1.0) is None
    run.end()


def test_a_no_op_run_does_nothing_and_reads_as_none(home):
    run = Run(project="p", no_op=True)
    assert (run.uuid, run.run_uuid, run.path, run.status, run.get_inputs()) == (None,) * 5
    run.log_image("not an image")  # checked by a real run; a no-op run checks nothing
    assert not home.exists()


def test_init_takes_runs_parameters():
    init = inspect.signature(tracking.init)
    run = inspect.signature(Run.__init__)
    assert list(init.parameters.values()) == list(run.parameters.values())[1:]


@pytest.mark.parametrize("rank, rank_metrics, keeps", [
    pytest.param(0, "rank0", True, id="rank0"),
    pytest.param(1, "rank0", False, id="rank1-default"),
    pytest.param(1, "all", True, id="rank1-all"),
])
def test_rank_policy_decides_whose_metrics_are_kept(rank, rank_metrics, keeps):
    assert RankPolicy.for_rank(rank, rank_metrics).keeps_metrics is keeps


def test_rank_policy_lets_another_rank_change_the_status_only_by_failing():
    policy = RankPolicy(rank=2)
    assert policy.status_change("running", "m") == (True, "m")
    assert policy.status_change("succeeded", "m") == (False, "m")
    assert policy.status_change("failed", "boom") == (True, "rank 2: boom")
    assert policy.status_change("failed", None) == (True, "rank 2 failed")
    assert RankPolicy(rank=0).status_change("succeeded", "m") == (True, "m")


def test_a_second_rank_consults_its_policy(home, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run = Run(project="p", install_handlers=False, track_code=False, track_env=False, track_logs=False,
              collect_resources=False)
    run.log_metric("loss", 1.0, step=1)
    run.log_metrics(step=2, loss=0.5)
    run.log_status("succeeded")  # rank 0 owns the run's status
    run.flush()
    assert read_run_file(run.path / "run.json")["status"] == "running"
    assert not (run.path / "events" / "metric").exists() or not any((run.path / "events" / "metric").iterdir())
    assert "log_metric" not in vars(run) and "log_status" not in vars(run)
    run.log_status("failed", message="out of memory")
    run.flush()
    record = read_run_file(run.path / "run.json")
    assert record["status"] == "failed"
    assert record["status_conditions"][-1]["message"] == "rank 1: out of memory"
    run.end()
