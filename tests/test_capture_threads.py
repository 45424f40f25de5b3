"""Capture without threads of its own per run: resource samples are taken on the process's writer
thread, and a run's end records its logs without waiting for the reader thread."""

from __future__ import annotations

import os
import threading
import time

import labbook


def _thread_names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


def test_runs_sampling_resources_start_no_sampler_thread_and_still_sample(run_factory):
    uuids = []
    for _ in range(3):
        run = run_factory(collect_resources=True)
        assert "labbook-resources" not in _thread_names()
        run.end()
        uuids.append(run.uuid)
    for uuid in uuids:  # each run, shorter than the first delay, still got its sample at end()
        assert len(labbook.get_run(uuid).resource("load.1m")) == 1


def test_the_writer_thread_samples_every_interval(run_factory):
    run = run_factory(collect_resources=True, resources_interval=0.1)
    folder = run.path / "resources" / "metric"
    deadline = time.monotonic() + 20
    samples = 0
    while time.monotonic() < deadline and samples < 3:
        time.sleep(0.05)
        if any(folder.glob("load.1m/*.lbm")):
            samples = len(labbook.get_run(run.uuid).resource("load.1m"))
    run.end()
    assert samples >= 3, f"only {samples} samples in 20 s at an interval of 0.1 s"
    assert "labbook-resources" not in _thread_names()


def test_end_records_the_last_line_left_in_the_pipe(run_factory):
    run = run_factory(track_logs=True)
    os.write(1, b"the last words\n")  # straight to fd 1, the pipe: end() must record it itself
    run.end()
    messages = [line.message for line in labbook.get_run(run.uuid).logs()]
    assert "the last words" in messages
