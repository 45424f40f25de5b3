"""One bad value never takes other records down; damaged files still read; series in step order."""

from __future__ import annotations

import time

import orjson
import pytest

import labbook
from labbook.errors import InvalidNameError, InvalidValueError, LabbookError
from labbook.store import format as fmt


def _good_points(run) -> None:
    for step in range(3):
        run.log_metric("a", float(step), step=step)
        run.log_metric("c", 10.0 + step, step=step)


@pytest.mark.parametrize("kwargs, argument", [
    pytest.param({"step": 2**70}, "step=", id="step-past-int64"),
    pytest.param({"step": -(2**63)}, "step=", id="step-at-int64-min"),
    pytest.param({"timestamp": -1e12}, "timestamp=", id="timestamp-year-minus-29700"),
    pytest.param({"timestamp": 1e300}, "timestamp=", id="timestamp-huge"),
    pytest.param({"timestamp": "yesterday"}, "timestamp='yesterday'", id="timestamp-text"),
    pytest.param({"timestamp": [1]}, "timestamp=", id="timestamp-list"),
])
def test_a_bad_step_or_timestamp_is_refused_at_the_call_and_harms_nothing(run_factory, kwargs, argument):
    run = run_factory()
    _good_points(run)
    with pytest.raises(InvalidValueError, match=argument.replace("[", r"\[")):
        run.log_metric("b", 2.0, **kwargs)
    with pytest.raises(InvalidValueError, match=argument.replace("[", r"\[")):
        run.log_metrics(b=2.0, **kwargs)
    run.log_metric("a", 3.0, step=3)
    run.flush()
    record = labbook.get_run(run.uuid)
    assert record.metric("a").values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert record.metric("c").values.tolist() == [10.0, 11.0, 12.0]
    assert "b" not in record.metric_names()


def test_bad_timestamp_of_an_event_names_the_argument(run_factory):
    run = run_factory()
    with pytest.raises(InvalidValueError, match="timestamp='yesterday'") as caught:
        run.log_text("t", "fine", step=1, timestamp="yesterday")
    assert isinstance(caught.value, LabbookError)
    with pytest.raises(InvalidValueError, match="timestamp="):
        run.log_text("t", "fine", step=1, timestamp=-1e12)


def test_text_that_utf8_cannot_store_is_refused_and_harms_nothing(run_factory):
    run = run_factory()
    run.log_text("t", "first", step=0)
    run.log_html("h", "<b>ok</b>", step=0)
    with pytest.raises(InvalidValueError, match=r"log_text\('t'\).*surrogate"):
        run.log_text("t", "bad\ud800", step=1)
    with pytest.raises(InvalidValueError, match=r"log_html\('h'\)"):
        run.log_html("h", "<b>\udfff</b>", step=1)
    run.log_text("t", "second", step=2)
    run.flush()
    record = labbook.get_run(run.uuid)
    assert [e.value for e in record.events("text", "t")] == ["first", "second"]
    assert [e.value for e in record.events("html", "h")] == ["<b>ok</b>"]


@pytest.mark.parametrize("name", ["x\ud800", "loss/\udc80"])
def test_names_that_utf8_cannot_store_are_refused(run_factory, name):
    run = run_factory()
    with pytest.raises(InvalidNameError, match="surrogate"):
        run.log_metric(name, 1.0)
    with pytest.raises(InvalidNameError, match="surrogate"):
        run.log_text(name, "text")


def test_the_writer_leaves_out_a_record_it_cannot_write_and_only_that_one(run_factory):
    # The call site refuses these; a record that still reaches the writer (a value whose
    # encoding fails later) must not take the others of its flush with it.
    run = run_factory()
    _good_points(run)
    run.log_text("t", "kept", step=0)
    writer = run._writer
    writer.metrics.extend((writer.metric_id("b"), 2**70, time.time(), 2.0))
    writer.metrics.extend((writer.metric_id("b"), 1, -1e12, 2.0))
    writer.metrics.extend((writer.metric_id("b"), 2, time.time(), 2.0))
    writer.events.append((writer.series("text", "t"), 1, fmt.to_epoch_us(None), "bad\ud800"))
    run.log_text("t", "kept too", step=2)
    with pytest.raises(InvalidValueError, match="left out"):
        run.flush()  # reported once: the next call goes on
    run.log_metric("a", 3.0, step=3)
    run.end()
    record = labbook.get_run(run.uuid)
    assert record.metric("a").values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert record.metric("c").values.tolist() == [10.0, 11.0, 12.0]
    assert record.metric("b").steps.tolist() == [2]
    assert [e.value for e in record.events("text", "t")] == ["kept", "kept too"]
    assert record.raw["dropped"][run.writer_id]["invalid_value"]["count"] == 3


def test_a_record_left_out_is_raised_by_the_next_logging_call(run_factory):
    run = run_factory()
    writer = run._writer
    run.log_metric("a", 1.0, step=0)
    writer.metrics.extend((writer.metric_id("b"), 2**70, time.time(), 2.0))
    writer.wake()
    deadline = time.monotonic() + 10
    while writer.record_failure is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(InvalidValueError, match=r"log_metric\('b'\)"):
        run.log_metric("a", 2.0, step=1)  # the hot path itself checks nothing: this one does
    run.log_metric("a", 3.0, step=2)  # reported once
    run.flush()
    assert labbook.get_run(run.uuid).metric("a").values.tolist() == [1.0, 3.0]


def test_never_crash_counts_bad_values_instead_of_raising(run_factory, capsys):
    run = run_factory(never_crash=True)
    run.log_metric("a", 1.0, step=0)
    run.log_metric("a", "0.3", step=1)
    run.log_metric("a", 2.0, step=2**70)
    run.log_metrics(step=3, a=float("nan"), b="x", timestamp="yesterday")
    run.log_text("t", "bad\ud800")
    run.log_metric("x\ud800", 1.0)
    run.log_metric("a", 4.0, step=4)
    run.flush()
    run.end()
    err = capsys.readouterr().err
    assert "invalid_value 6" in err and "log_metric('a') got str" in err
    record = labbook.get_run(run.uuid)
    assert record.metric("a").values.tolist() == [1.0, 4.0]
    dropped = record.raw["dropped"][run.writer_id]
    assert dropped == {"invalid_value": {"count": 6, "message": dropped["invalid_value"]["message"]}}
    with pytest.raises(labbook.errors.RunStateError):  # logging after end() is still a mistake
        run.log_metric("a", 5.0)


def test_never_crash_from_the_environment(home, monkeypatch):
    monkeypatch.setenv("LABBOOK_NEVER_CRASH", "1")
    from labbook.config import Settings

    assert Settings.load({}).never_crash is True
    monkeypatch.setenv("LABBOOK_NEVER_CRASH", "maybe")
    with pytest.raises(labbook.errors.ConfigError, match="LABBOOK_NEVER_CRASH"):
        Settings.load({})


def test_one_writer_reads_back_in_step_order(run_factory):
    run = run_factory()
    for value, step in enumerate([5, 3, 4, 4, 1]):
        run.log_metric("m", float(value), step=step)
    run.flush()
    series = labbook.get_run(run.uuid).metric("m")
    assert series.steps.tolist() == [1, 3, 4, 4, 5]
    assert series.values.tolist() == [4.0, 1.0, 2.0, 3.0, 0.0]  # equal steps: in time order


def test_a_corrupt_line_in_an_event_file_is_skipped_and_counted(run_factory):
    run = run_factory()
    for step in range(4):
        run.log_text("t", f"line {step}", step=step)
    run.flush()
    (path,) = (run.path / "events" / "text" / "t").glob("*.jsonl")
    lines = path.read_bytes().split(b"\n")
    lines[2] = lines[2][:10] + b"\x00garbage"  # the record of step 1, damaged in place
    lines[3] = orjson.dumps({"step": 2, "timestamp": "not a time", "value": "line 2"})
    path.write_bytes(b"\n".join(lines))
    events = labbook.get_run(run.uuid).events("text", "t")
    assert [e.value for e in events] == ["line 0", "line 3"]
    assert events.skipped == 2


def test_a_metric_file_with_a_header_written_mid_file_resyncs(run_factory):
    # What older writers left after a fork or a failed write: a partial record, then a header.
    run = run_factory()
    for step in range(3):
        run.log_metric("m", float(step), step=step)
    run.flush()
    (path,) = (run.path / "events" / "metric" / "m").glob("*.lbm")
    tail = fmt.encode_metric_record(3, 1_700_000_000_000_000, 3.0)
    with open(path, "ab") as handle:
        handle.write(b"\x01" * 10)  # a torn record
        handle.write(fmt.header_bytes("metric", "m", "again") + tail)
    series = labbook.get_run(run.uuid).metric("m")
    assert series.steps.tolist() == [0, 1, 2, 3]
    assert series.values.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert series.skipped == 1


def test_never_crash_counts_each_metric_of_a_module_log_metrics_call(home, monkeypatch, capsys):
    """tracking.log_metrics hands its dict to the never-crash run's _log_metrics, guarded as
    log_metrics is: a bad value counts one per metric of the call, none of them logged."""
    from labbook import tracking

    monkeypatch.setenv("LABBOOK_NEVER_CRASH", "1")
    run = tracking.init(project="p", install_handlers=False, track_code=False, track_env=False,
                        track_logs=False, collect_resources=False)
    tracking.log_metrics(step=0, a=1.0, b=2.0)
    tracking.log_metrics(step=1, a=1.0, b="x", c=3.0)
    tracking.log_metrics(step=2, timestamp="yesterday", a=1.0)
    tracking.end()
    assert "invalid_value 4" in capsys.readouterr().err
    record = labbook.get_run(run.uuid)
    assert record.metric("a").values.tolist() == [1.0]
    assert "c" not in record.metric_names()
