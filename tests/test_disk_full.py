"""A run whose disk fills up mid-run, then gets its space back: nothing lost without a count.

The run's home (run folders and catalog) is on a real 16 MiB tmpfs that the test fills and frees.
"""

from __future__ import annotations

import errno
import time

import numpy as np
import pytest
from click.testing import CliRunner

import labbook
from labbook.cli.main import cli
from labbook.errors import LabbookError, WriteError
from labbook.store import format as fmt
from labbook.tracking.run import Run

NAMES = [f"series/{i}" for i in range(24)]


def value_at(step: int) -> float:
    return step + 0.25


@pytest.fixture
def disk_home(small_disk, monkeypatch):
    home = small_disk.path / "home"
    monkeypatch.setenv("LABBOOK_HOME", str(home))
    return small_disk


def new_run(**settings) -> Run:
    return Run(project="disk", install_handlers=False, track_env=False, track_code=False,
               track_logs=False, collect_resources=False, flush_interval=0.05, **settings)


class Logger:
    """Logs one point per series per round; remembers what was accepted and what raised."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.step = 0
        self.accepted: dict[str, list[int]] = {name: [] for name in NAMES}
        self.errors: list[LabbookError] = []

    def round(self) -> None:
        for name in NAMES:
            try:
                self.run.log_metric(name, value_at(self.step), step=self.step)
            except WriteError as error:
                self.errors.append(error)
            else:
                self.accepted[name].append(self.step)
        self.step += 1

    def until_refused(self, seconds: float = 60) -> None:
        """Log rounds until a call raises (tmpfs lets a file fill its last page first)."""
        deadline = time.monotonic() + seconds
        while not self.errors and time.monotonic() < deadline:
            self.round()
            time.sleep(0.005)
        assert self.errors, "no logging call reported the full disk"

    @property
    def logged(self) -> int:
        return sum(map(len, self.accepted.values()))


def assert_files_well_formed(run_path) -> None:
    for path in (run_path / "events").rglob("*"):
        if path.suffix == ".lbm":
            header_end = path.read_bytes().index(b"\n") + 1
            assert (path.stat().st_size - header_end) % fmt.RECORD_SIZE == 0, path
            assert fmt.read_metric_records(path)[1] == 0
        elif path.suffix == ".jsonl":
            data = path.read_bytes()
            assert data.endswith(b"\n"), path
            skipped = [0]
            list(fmt.iter_json_records(path, skipped))
            assert skipped == [0], path


def assert_rebuild_is_clean(run: Run):
    result = CliRunner().invoke(cli, ["index", "--rebuild"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 run folders, 1 indexed, 0 unreadable" in result.output
    row = labbook.search_runs("disk")[0]
    assert row.uuid == run.uuid and row.status == "succeeded"
    return row


def refused_on_a_full_disk(disk, rounds: int) -> tuple[Run, Logger]:
    """A run with ``rounds`` points per series written, then a full disk that refused a call."""
    run = new_run()
    log = Logger(run)
    for _ in range(rounds):
        log.round()
    run.flush()
    disk.fill()
    log.until_refused()
    return run, log


def test_metrics_on_a_full_disk_raise_then_everything_is_written_when_space_returns(disk_home):
    run, log = refused_on_a_full_disk(disk_home, 20)
    error = log.errors[0]
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert str(run.path) in str(error) and "No space left on device" in str(error)
    assert "LABBOOK_NEVER_CRASH" in str(error)
    for _ in range(30):  # still full: every call is refused, none is half accepted
        log.round()
    with pytest.raises(WriteError, match="kept pending"):
        run.flush()  # never returns as if the pending points were written

    disk_home.free()
    run.flush()  # the backlog is written now
    for _ in range(10):
        log.round()
    run.end()

    record = labbook.get_run(run.uuid)
    for name in NAMES:
        series = record.metric(name)
        assert series.steps.tolist() == log.accepted[name]
        assert series.values.tolist() == [value_at(s) for s in log.accepted[name]]
        assert series.skipped == 0
    assert "dropped" not in record.raw  # nothing was dropped: all accepted points are there
    assert_files_well_formed(run.path)
    row = assert_rebuild_is_clean(run)
    assert {name: row.summaries[name]["count"] for name in NAMES} == {
        name: len(steps) for name, steps in log.accepted.items()}


def test_never_crash_counts_what_a_full_disk_kept_out(disk_home, monkeypatch, capsys):
    monkeypatch.setenv("LABBOOK_NEVER_CRASH", "1")
    monkeypatch.setenv("LABBOOK_MAX_PENDING", "1000")
    run = new_run()
    log = Logger(run)
    for _ in range(20):
        log.round()
    run.flush()
    disk_home.fill()
    for _ in range(400):  # 9,600 points: a file fills its last page, then the 1,000 kept
        log.round()
        run.log_text("notes", f"round {log.step}", step=log.step)
        if log.step % 10 == 0:
            run.flush()  # returns: in this mode losses are counted, not raised
        time.sleep(0.002)
    assert log.errors == []
    disk_home.free()
    for _ in range(5):
        log.round()
    run.end()

    report = capsys.readouterr().err
    assert f"run {run.uuid}" in report and "disk_full" in report
    record = labbook.get_run(run.uuid)
    dropped = record.raw["dropped"][run.writer_id]
    assert dropped["disk_full"]["count"] > 0
    assert "max_pending=1000" in dropped["disk_full"]["message"]
    read_back = 0
    for name in NAMES:
        series = record.metric(name)
        steps = series.steps.tolist()
        assert len(set(steps)) == len(steps) and set(steps) <= set(log.accepted[name])
        assert series.values.tolist() == [value_at(s) for s in steps]  # exact, never garbage
        read_back += len(steps)
    notes = record.events("text", "notes")
    assert all(e.value == f"round {e.step}" for e in notes)
    # every point either read back exactly or counted
    assert read_back + len(notes) + dropped["disk_full"]["count"] == log.logged + 400
    assert_files_well_formed(run.path)
    assert_rebuild_is_clean(run)


def test_text_and_rich_events_on_a_full_disk(disk_home):
    run = new_run()
    accepted: list[int] = []
    errors: list[WriteError] = []

    def log_events(step: int) -> None:
        try:
            run.log_text("sample", f"text at {step} " + "x" * 200, step=step)
            run.log_html("page", f"<b>{step}</b>", step=step)
            run.log_np_histogram("weights", np.arange(4.0), np.array([step, 1, 2]), step=step)
        except WriteError as error:
            errors.append(error)
        else:
            accepted.append(step)

    for step in range(5):
        log_events(step)
    run.flush()
    disk_home.fill()
    step = 5
    deadline = time.monotonic() + 60
    while not errors and time.monotonic() < deadline:
        log_events(step)
        step += 1
        time.sleep(0.005)
    assert errors and errors[0].errno == errno.ENOSPC
    with pytest.raises(WriteError):
        run.flush()
    disk_home.free()
    for _ in range(3):
        log_events(step)
        step += 1
    run.end()

    record = labbook.get_run(run.uuid)
    texts = record.events("text", "sample")
    # a call that raised may have queued its first events: those are kept, never duplicated
    text_steps = [e.step for e in texts]
    assert len(set(text_steps)) == len(text_steps) and set(accepted) <= set(text_steps)
    assert all(e.value.startswith(f"text at {e.step} ") for e in texts)
    assert [e.step for e in record.events("html", "page")] == sorted(
        e.step for e in record.events("html", "page"))
    histograms = record.events("histogram", "weights")
    assert set(accepted) <= {e.step for e in histograms}
    assert texts.skipped == 0
    assert_files_well_formed(run.path)
    assert_rebuild_is_clean(run)


def test_end_on_a_still_full_disk_raises_and_counts(disk_home, capsys):
    run, _ = refused_on_a_full_disk(disk_home, 5)
    with pytest.raises(WriteError, match="dropped"):
        run.end()  # the run is ended all the same: the points it could not write are counted
    assert run._ended
    report = capsys.readouterr().err
    assert "disk_full" in report and f"run {run.uuid}" in report
    disk_home.free()
    record = labbook.get_run(run.uuid)
    for name in NAMES:
        series = record.metric(name)
        assert series.values.tolist() == [value_at(s) for s in series.steps.tolist()]
    assert_files_well_formed(run.path)
