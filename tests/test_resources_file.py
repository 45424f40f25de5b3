"""The resources file: one append-only file per sampling writer (``resources/<writer id>.lbr``),
a column per series name, read back per name beside the per-name files earlier versions wrote."""

from __future__ import annotations

import dataclasses
import math

import pytest

import labbook
from labbook.capture.resources import ResourceSampler
from labbook.errors import EventFileError, NotFoundError
from labbook.store import format as fmt
from labbook.store.format import read_header
from labbook.sync.protocol import APPEND, file_mode
from labbook.writer.writer import Series

T0 = 1_764_556_800.0  # seconds since the epoch: the samples' times


def _sampler(run, rank: int = 0, writer_id: str | None = None) -> ResourceSampler:
    """A sampler of ``run``'s folder, as the writer of ``rank`` (its own writer id)."""
    parts = dataclasses.replace(run._parts, rank=rank, writer_id=writer_id or f"{rank}-4242-a1b2c{rank}")
    return ResourceSampler(parts, 10.0, local_rank=0)


def _write(sampler: ResourceSampler, *samples: dict[str, float]) -> None:
    for index, values in enumerate(samples):
        sampler._write(values, T0 + index)


def _old_layout(folder, name: str, writer_id: str, rank: int, values: list[float]) -> None:
    """``resources/metric/<name>/<writer>.lbm`` as earlier versions wrote it, one record per value."""
    series = Series("metric", name, folder.series_file("metric", name, writer_id, root=folder.resources))
    for step, value in enumerate(values):
        series.append(fmt.encode_metric_record(step, round((T0 + step) * 1e6), value), writer_id,
                      {"rank": rank, "local_rank": 0, "pid": 4242, "host": "old"})


def test_a_writers_samples_are_one_file_read_back_per_name_with_ranks(run_factory):
    run = run_factory()
    first, second = _sampler(run, rank=0), _sampler(run, rank=1)
    _write(first, *({"cpu.percent": 10.0 + i, "process.memory.rss": 100.0 + i} for i in range(3)))
    _write(second, {"process.memory.rss": 200.0}, {"process.memory.rss": 201.0})

    resources = run.path / "resources"
    assert sorted(p.name for p in resources.iterdir()) == ["0-4242-a1b2c0.lbr", "1-4242-a1b2c1.lbr"]
    header = read_header(resources / "0-4242-a1b2c0.lbr")
    assert header["kind"] == "resources" and header["version"] == 1 and "name" not in header
    assert header["columns"] == ["cpu.percent", "process.memory.rss"]
    assert (header["writer"], header["rank"], header["local_rank"]) == ("0-4242-a1b2c0", 0, 0)
    assert (resources / "0-4242-a1b2c0.lbr").stat().st_size == len(fmt.header_bytes(
        "resources", None, "0-4242-a1b2c0", **{k: v for k, v in header.items() if k not in
                                                 ("format", "version", "kind", "writer")})) + 3 * (16 + 2 * 8)

    record = labbook.get_run(run.uuid)
    assert record.resource_names() == ["cpu.percent", "process.memory.rss"]
    cpu = record.resource("cpu.percent")
    assert cpu.steps.tolist() == [0, 1, 2] and cpu.values.tolist() == [10.0, 11.0, 12.0]
    assert cpu.timestamps.astype("int64").tolist() == [round((T0 + i) * 1e6) for i in range(3)]
    assert cpu.ranks is None  # one writer
    rss = record.resource("process.memory.rss")
    assert sorted(zip(rss.ranks.tolist(), rss.values.tolist())) == [
        (0, 100.0), (0, 101.0), (0, 102.0), (1, 200.0), (1, 201.0)]
    assert record.resource("process.memory.rss", rank=1).values.tolist() == [200.0, 201.0]
    with pytest.raises(NotFoundError, match="'cpu.percent' has no points from rank 1"):
        record.resource("cpu.percent", rank=1)
    with pytest.raises(NotFoundError, match="has no resource 'gpu.0.power'. Its resources: 'cpu.percent', "
                                            "'process.memory.rss'"):
        record.resource("gpu.0.power")


def test_a_sample_with_a_new_name_starts_the_next_file_and_absent_values_are_no_points(run_factory):
    run = run_factory()
    sampler = _sampler(run)
    _write(sampler, {"load.1m": 1.0}, {"load.1m": 2.0, "gpu.0.power": 20.0}, {"gpu.0.power": 30.0},
           {"load.1m": math.nan, "gpu.0.power": 40.0}, {"load.1m": 5.0, "gpu.0.power": 50.0})

    resources = run.path / "resources"
    assert sorted(p.name for p in resources.iterdir()) == ["0-4242-a1b2c0.1.lbr", "0-4242-a1b2c0.lbr"]
    assert read_header(resources / "0-4242-a1b2c0.lbr")["columns"] == ["load.1m"]
    assert read_header(resources / "0-4242-a1b2c0.1.lbr")["columns"] == ["load.1m", "gpu.0.power"]
    assert (resources / "0-4242-a1b2c0.1.lbr").read_bytes().endswith(
        fmt.encode_resource_record(4, round((T0 + 4) * 1e6), [5.0, 50.0]))

    record = labbook.get_run(run.uuid)
    load = record.resource("load.1m")  # both files; no point where a sample had no value
    assert load.steps.tolist() == [0, 1, 4] and load.values.tolist() == [1.0, 2.0, 5.0]
    power = record.resource("gpu.0.power")
    assert power.steps.tolist() == [1, 2, 3, 4] and power.values.tolist() == [20.0, 30.0, 40.0, 50.0]
    assert record.resource_names() == ["gpu.0.power", "load.1m"]


def test_a_torn_tail_is_dropped_and_a_file_without_its_header_yet_is_passed_over(run_factory):
    run = run_factory()
    sampler = _sampler(run)
    _write(sampler, {"load.1m": 1.0, "memory.used": 10.0}, {"load.1m": 2.0, "memory.used": 20.0})
    path = run.path / "resources" / "0-4242-a1b2c0.lbr"
    with open(path, "ab") as handle:  # a sample cut short: 16 + 8 of its 32 bytes
        handle.write(fmt.encode_resource_record(2, round((T0 + 2) * 1e6), [3.0, 30.0])[:24])
    (run.path / "resources" / "1-7-ffffff.lbr").write_bytes(b'{"format":"labbook.ev')  # being created

    record = labbook.get_run(run.uuid)
    assert record.resource("load.1m").values.tolist() == [1.0, 2.0]
    assert record.resource("memory.used").values.tolist() == [10.0, 20.0]
    assert record.resource_names() == ["load.1m", "memory.used"]


def test_a_folder_of_the_earlier_layout_still_reads_and_so_does_one_holding_both(run_factory):
    old = run_factory()
    _old_layout(old._folder, "cpu.percent", "0-1-aaaaaa", 0, [1.0, 2.0])
    _old_layout(old._folder, "load.1m", "0-1-aaaaaa", 0, [0.5])
    record = labbook.get_run(old.uuid)
    assert not list((old.path / "resources").glob("*.lbr"))
    assert record.resource_names() == ["cpu.percent", "load.1m"]
    assert record.resource("cpu.percent").values.tolist() == [1.0, 2.0]
    with pytest.raises(NotFoundError, match="has no resource 'memory.used'. Its resources: 'cpu.percent', 'load.1m'"):
        record.resource("memory.used")

    both = run_factory()  # a run resumed by a newer version: rank 0 wrote the old way, rank 1 the new
    _old_layout(both._folder, "process.memory.rss", "0-1-aaaaaa", 0, [100.0, 101.0])
    _write(_sampler(both, rank=1), {"process.memory.rss": 200.0, "process.count": 1.0})
    record = labbook.get_run(both.uuid)
    assert record.resource_names() == ["process.count", "process.memory.rss"]
    rss = record.resource("process.memory.rss")
    assert sorted(zip(rss.ranks.tolist(), rss.values.tolist())) == [(0, 100.0), (0, 101.0), (1, 200.0)]
    assert record.resource("process.memory.rss", rank=0).values.tolist() == [100.0, 101.0]
    assert record.resource("process.memory.rss", rank=1).values.tolist() == [200.0]
    assert record.resource("process.count").values.tolist() == [1.0]


def test_a_resources_file_of_a_newer_format_version_is_refused_with_advice(run_factory):
    run = run_factory()
    _write(_sampler(run), {"load.1m": 1.0})
    header = b'{"format":"labbook.events","version":2,"kind":"resources","writer":"1-7-ffffff","columns":["x"]}\n'
    (run.path / "resources" / "1-7-ffffff.lbr").write_bytes(header + bytes(24))
    record = labbook.get_run(run.uuid)
    for read in (record.resource_names, lambda: record.resource("load.1m")):
        with pytest.raises(EventFileError, match="1-7-ffffff.lbr uses event format version 2; .* Upgrade labbook"):
            read()


@pytest.mark.parametrize("rel_path", [
    pytest.param("resources/0-1-a1b2c3.lbr", id="resources-file"),
    pytest.param("resources/0-1-a1b2c3.2.lbr", id="segment"),
    pytest.param("resources/metric/cpu.percent/0-1-a1b2c3.lbm", id="earlier-layout"),
])
def test_resources_files_are_synced_as_append_only_files(rel_path):
    assert file_mode(rel_path) == APPEND


def test_a_link_planted_where_resources_go_is_not_written_through_and_the_sample_is_retried(run_factory, tmp_path):
    run = run_factory()
    sampler = _sampler(run)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run.path / "resources").symlink_to(elsewhere)
    with pytest.raises(OSError, match="symbolic link"):  # reported at end(); the run goes on
        _write(sampler, {"load.1m": 1.0})
    assert list(elsewhere.iterdir()) == []

    (run.path / "resources").unlink()
    _write(sampler, {"load.1m": 2.0})
    record = labbook.get_run(run.uuid)
    assert record.resource("load.1m").steps.tolist() == [0]  # the failed sample took no step
    assert [p.name for p in (run.path / "resources").iterdir()] == ["0-4242-a1b2c0.lbr"]
