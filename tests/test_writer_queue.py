"""The metric queue and how the writer takes it apart: one series, log_metrics rows, metrics
logged in turn, irregular mixes, missing steps, several threads, batches."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import labbook
from labbook.writer import writer as writer_module
from labbook.writer.writer import DRAIN_BATCH, RECORD_WIDTH, _period


def _series(run, name):
    metric = labbook.get_run(run.uuid).metric(name)
    return metric.steps.tolist(), metric.values.tolist()


def test_metrics_logged_in_turn_across_several_batches(run_factory):
    # three metrics in turn, more than a batch of them: the batches end mid-turn
    run = run_factory()
    steps = DRAIN_BATCH + 101
    for step in range(steps):
        run.log_metric("a", step * 1.0, step=step)
        run.log_metric("b", step * 2.0, step=step)
        run.log_metric("c", step * 3.0, step=step)
    run.end()
    for name, scale in (("a", 1.0), ("b", 2.0), ("c", 3.0)):
        assert _series(run, name) == (list(range(steps)), [s * scale for s in range(steps)])


def test_rows_and_single_metrics_in_turn(run_factory):
    run = run_factory()
    for step in range(500):
        run.log_metrics(step=step, loss=step / 10, acc=step / 100)
        run.log_metric("lr", 0.5 - step / 1000, step=step)
    run.end()
    assert _series(run, "loss") == (list(range(500)), [s / 10 for s in range(500)])
    assert _series(run, "acc") == (list(range(500)), [s / 100 for s in range(500)])
    assert _series(run, "lr") == (list(range(500)), [0.5 - s / 1000 for s in range(500)])


def test_a_metric_both_in_rows_and_alone_keeps_its_order(run_factory):
    run = run_factory()
    for step in range(0, 300, 2):
        run.log_metrics(step=step, loss=float(step), acc=0.0)
        run.log_metric("loss", float(step + 1), step=step + 1)
        if step % 6 == 0:
            run.log_metric("every_third", float(step), step=step)
    run.end()
    assert _series(run, "loss") == (list(range(300)), [float(s) for s in range(300)])
    assert _series(run, "every_third") == (list(range(0, 300, 6)), [float(s) for s in range(0, 300, 6)])


def test_missing_steps_follow_each_series_own_last_step(run_factory):
    run = run_factory()
    run.log_metric("b", 0.0, step=100)
    for index in range(50):
        run.log_metric("a", float(index))
        run.log_metric("b", float(index))
        run.log_metrics(c=float(index), d=-float(index))
    run.flush()
    for index in range(50, 60):
        run.log_metric("a", float(index))
    run.end()
    assert _series(run, "a") == (list(range(60)), [float(i) for i in range(60)])
    assert _series(run, "b") == ([100, *range(101, 151)], [0.0, *map(float, range(50))])
    assert _series(run, "c")[0] == list(range(50))
    assert _series(run, "d")[1] == [-float(i) for i in range(50)]


def test_records_logged_from_several_threads_never_mix(run_factory):
    run = run_factory()
    count = 20_000

    def log(name, scale):
        for step in range(count):
            run.log_metric(name, step * scale, step=step)

    threads = [threading.Thread(target=log, args=(f"m{i}", float(i + 1))) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.end()
    for i in range(4):
        steps, values = _series(run, f"m{i}")
        assert steps == list(range(count))
        assert np.array_equal(np.asarray(values), np.arange(count) * float(i + 1))


def test_a_batch_wakes_the_writer_before_the_flush_interval(run_factory, monkeypatch):
    monkeypatch.setenv("LABBOOK_FLUSH_INTERVAL", "3600")  # only a batch makes the writer work
    run = run_factory()
    for step in range(3 * DRAIN_BATCH):
        run.log_metric("m", float(step), step=step)
    path = run._writer.series("metric", "m").path
    deadline = time.monotonic() + 30
    while not (path.exists() and path.stat().st_size >= 24 * DRAIN_BATCH):
        assert time.monotonic() < deadline, "no batch was written before the flush interval"
        time.sleep(0.01)
    assert run._writer.drain_mark <= run._writer.max_pending
    run.end()
    assert _series(run, "m")[1] == [float(s) for s in range(3 * DRAIN_BATCH)]


def test_the_queue_stays_about_a_batch_long_while_the_writer_keeps_up(run_factory, monkeypatch):
    monkeypatch.setenv("LABBOOK_FLUSH_INTERVAL", "3600")
    run = run_factory()
    writer = run._writer
    longest = 0
    for step in range(12 * DRAIN_BATCH):
        run.log_metric("m", float(step), step=step)
        if step % 256 == 0:  # the writer gets its turn now and then, as in a training loop
            longest = max(longest, len(writer.metrics))
            time.sleep(0.002)
    run.end()
    # without the batches the queue would hold all 12 (the interval is an hour)
    assert longest <= 4 * DRAIN_BATCH * RECORD_WIDTH


@pytest.mark.parametrize(("ids", "period"), [
    ([1, 1, 1, 1], 1),
    ([(1, 2), (1, 2), (1, 2)], 1),
    ([1, 2, 3] * 5 + [1], 3),
    ([2, 3, 1] * 4, 3),
    ([(1, 2), 3] * 4, 2),
    ([(1, 2), 1] * 4, 0),  # a series in two of the repeating records
    ([1, 2, 1, 3] * 4, 0),
    ([1, 2, 3], 0),  # too few repeats
    ([1, 2] * 4 + [2, 1], 0),
])
def test_period(ids, period):
    assert _period(ids) == period


def test_an_unpackable_record_takes_the_careful_path_and_only_it_is_left_out(run_factory):
    run = run_factory()
    writer = run._writer
    for step in range(40):
        run.log_metric("a", float(step), step=step)
        run.log_metric("b", float(step), step=step)
    writer.metrics.extend((writer_module.RunWriter.metric_id(writer, "a"), 40, "not a time", 1.0))
    with pytest.raises(labbook.errors.InvalidValueError, match="left out"):
        run.flush()
    run.end()
    assert _series(run, "a") == (list(range(40)), [float(s) for s in range(40)])
    assert _series(run, "b") == (list(range(40)), [float(s) for s in range(40)])


@pytest.mark.parametrize("how", ["task", "periodic"])
def test_a_batch_is_written_while_the_flusher_runs_a_long_task(run_factory, how):
    """A task or periodic function on the flusher thread (the environment capture or the first
    resource probe at a run's start) does not hold the metrics back: the logging call that
    completes a batch writes it meanwhile, and nothing is written twice or lost."""
    run = run_factory(flush_interval=3600)
    writer = run._writer
    started, release = threading.Event(), threading.Event()

    def long_task():
        started.set()
        release.wait(10)

    if how == "task":
        writer.submit(long_task)
        writer.wake()
    else:
        handle = writer.every(3600, long_task, first=0)
    assert started.wait(10)
    steps = DRAIN_BATCH + 10
    try:
        for step in range(steps):
            run.log_metric("loss", float(step), step=step)
        assert len(writer.metrics) < DRAIN_BATCH * RECORD_WIDTH  # a batch was written meanwhile
    finally:
        release.set()
    if how == "periodic":
        writer.cancel(handle)
    run.end()
    assert _series(run, "loss") == (list(range(steps)), [float(s) for s in range(steps)])
