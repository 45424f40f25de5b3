"""Capture without threads of its own per run: resource samples are taken on the process's writer
thread, logs are read by the process's one reader thread, and a run's end records its logs without
waiting for that thread."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import labbook
from labbook.errors import NotFoundError


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
    folder = run.path / "resources"
    deadline = time.monotonic() + 20
    samples = 0
    while time.monotonic() < deadline and samples < 3:
        time.sleep(0.05)
        if any(folder.glob("*.lbr")):
            with contextlib.suppress(NotFoundError):  # created, its first record not written yet
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


def test_runs_capturing_logs_share_one_reader_thread(run_factory):
    """The log reader is one thread per process, started by the first capture and kept for the
    next runs: no thread is started or stopped per run, and every run still records its lines."""
    readers = []
    uuids = []
    for index in range(3):
        run = run_factory(track_logs=True)
        os.write(1, f"line of run {index}\n".encode())
        readers.append({t.ident for t in threading.enumerate() if t.name == "labbook-logs"})
        run.end()
        uuids.append(run.uuid)
    assert all(len(idents) == 1 for idents in readers), readers
    assert readers[0] == readers[1] == readers[2]
    assert [t.is_alive() for t in threading.enumerate() if t.name == "labbook-logs"] == [True]
    for index, uuid in enumerate(uuids):
        assert f"line of run {index}" in [line.message for line in labbook.get_run(uuid).logs()]
