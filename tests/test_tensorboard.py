"""TensorBoard: sync_tensorboard=True while a run runs, `labbook import tensorboard`, and
Polyaxon's Logger.process_summary. Event files are written by torch.utils.tensorboard and read
back, for comparison, with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import labbook
from labbook.cli.main import cli
from tests.conftest import require

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # pragma: no cover - CI installs torch
    SummaryWriter = None

BASE = 1_700_000_000.123456  # wall times with microseconds, so exactness is tested


@pytest.fixture(autouse=True)
def _needs_torch_and_tensorboard():
    require(SummaryWriter is not None, "torch (with torch.utils.tensorboard) is not installed")
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        require(False, "tensorboard is not installed")


def write_events(folder: Path, steps: int = 1000, start: int = 0) -> None:
    """Scalars, histograms, images and text with chosen steps and wall times."""
    writer = SummaryWriter(str(folder))
    rng = np.random.default_rng(start)
    for step in range(start, start + steps):
        writer.add_scalar("loss/train", 1.0 / (step + 1), step, walltime=BASE + step * 0.25)
        if step % 100 == 0:
            writer.add_histogram("weights", rng.normal(size=500), step, walltime=BASE + step * 0.25 + 0.01)
            image = (rng.random((3, 8, 8)) * 255).astype(np.uint8)
            writer.add_image("sample", image, step, walltime=BASE + step * 0.25 + 0.02)
            writer.add_text("notes", f"step {step}: *fine*", step, walltime=BASE + step * 0.25 + 0.03)
    writer.close()


def accumulate(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                               "tensors": 0})
    accumulator.Reload()
    return accumulator


def us(wall_time: float) -> int:
    return round(wall_time * 1e6)


def assert_same_as_tensorboard(record, folder: Path, prefix: str = "") -> None:
    """Every scalar, histogram, image and text of ``folder`` is in ``record``, exactly."""
    tb = accumulate(folder)
    scalars = tb.Scalars("loss/train")
    loss = record.metric(prefix + "loss/train")
    assert loss.steps.tolist() == [e.step for e in scalars]
    assert loss.values.tolist() == [e.value for e in scalars]
    assert loss.timestamps.astype("int64").tolist() == [us(e.wall_time) for e in scalars]

    histograms = record.events("histogram", prefix + "weights")
    expected = tb.Histograms("weights")
    assert [e.step for e in histograms] == [e.step for e in expected]
    for got, want in zip(histograms, expected):
        h = want.histogram_value  # torch pads one empty bucket in front: the bins are the rest
        assert h.bucket[0] == 0 and sum(h.bucket) == h.num == 500
        assert got.value["edges"] == list(h.bucket_limit)
        assert got.value["counts"] == list(h.bucket)[1:]
        assert us(got.timestamp.timestamp()) == us(want.wall_time)

    images = record.events("image", prefix + "sample")
    expected = tb.Images("sample")
    assert [e.step for e in images] == [e.step for e in expected] and images
    for got, want in zip(images, expected):
        assert (record.path / got.value["path"]).read_bytes() == want.encoded_image_string

    texts = record.events("text", prefix + "notes")
    expected = tb.Tensors("notes/text_summary")
    assert [(e.step, e.value) for e in texts] == [
        (e.step, e.tensor_proto.string_val[0].decode()) for e in expected]


# -- sync_tensorboard -------------------------------------------------------------------------


def test_sync_tensorboard_logs_what_a_summary_writer_writes(run_factory):
    run = run_factory(sync_tensorboard=True)
    logdir = Path(run.get_tensorboard_path())
    writer = SummaryWriter(str(logdir))
    writer.add_scalar("early", 1.5, 0, walltime=BASE)
    writer.flush()
    deadline = time.monotonic() + 20
    while "early" not in labbook.get_run(run.uuid).metric_names():  # picked up while it runs
        assert time.monotonic() < deadline, "the watcher did not read the event file while the run ran"
        time.sleep(0.2)
    writer.close()
    write_events(logdir, steps=500)
    run.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    assert record.metric("early").values.tolist() == [1.5]
    assert_same_as_tensorboard(record, logdir)


def test_a_resumed_run_reads_nothing_twice(run_factory):
    run = run_factory(sync_tensorboard=True)
    logdir = Path(run.get_tensorboard_path())
    write_events(logdir, steps=200)
    run.end()
    first = labbook.get_run(run.uuid).metric("loss/train")
    assert len(first) == 200

    resumed = run_factory(run_uuid=run.uuid, sync_tensorboard=True)
    write_events(logdir, steps=100, start=200)  # a new event file beside the old one
    resumed.end()
    loss = labbook.get_run(run.uuid).metric("loss/train")
    assert loss.steps.tolist() == list(range(300))  # the first 200 once, then the new 100
    assert len(labbook.get_run(run.uuid).events("image", "sample")) == 3


def test_sub_folders_get_their_name_as_a_prefix(run_factory):
    from labbook.integrations.tensorboard import watch

    run = run_factory()
    logdir = run.path.parent / "elsewhere"
    watch(logdir, run=run, interval=0.1)
    write_events(logdir / "val", steps=100)
    run.end()
    record = labbook.get_run(run.uuid)
    assert record.metric_names() == ["val/loss/train"]
    assert_same_as_tensorboard(record, logdir / "val", prefix="val/")


def test_tracking_init_takes_sync_tensorboard(home):
    from labbook import tracking

    run = tracking.init(project="tb", sync_tensorboard=True, track_logs=False, collect_resources=False)
    writer = SummaryWriter(tracking.get_tensorboard_path())
    writer.add_scalar("acc", 0.5, 3, walltime=BASE)
    writer.close()
    tracking.end()
    acc = labbook.get_run(run.uuid).metric("acc")
    assert (acc.steps.tolist(), acc.values.tolist()) == ([3], [0.5])


def test_polyaxon_logger_process_summary(run_factory):
    from tensorboard.compat.proto.summary_pb2 import Summary

    from labbook.tracking.contrib.tensorboard import PolyaxonTensorboardLogger

    run = run_factory()
    summary = Summary(value=[Summary.Value(tag="loss", simple_value=0.25),
                             Summary.Value(tag="note", simple_value=2.0)])
    PolyaxonTensorboardLogger.process_summary(summary.SerializeToString(), global_step=7, run=run)
    run.end()
    record = labbook.get_run(run.uuid)
    assert record.metric("loss").values.tolist() == [0.25]
    assert record.metric("note").steps.tolist() == [7]


# -- labbook import tensorboard ---------------------------------------------------------------


@pytest.fixture
def logdir(tmp_path):
    root = tmp_path / "tb"
    write_events(root / "baseline", steps=1000)
    write_events(root / "wide" / "seed-1", steps=300)
    writer = SummaryWriter(str(root / "baseline"))
    writer.add_hparams({"lr": 0.01, "batch_size": 32, "optimizer": "adam", "augment": True},
                       {"hparam/accuracy": 0.91}, run_name="hparams")
    writer.close()
    return root


def imported(source_path: Path) -> labbook.RunRecord:
    rows = labbook.search_runs(filter=f"meta.imported_from.run_id = '{source_path}'")
    assert len(rows) == 1, f"{source_path} imported {len(rows)} times"
    return rows[0].load()


def test_import_tensorboard_carries_every_value(logdir):
    result = CliRunner().invoke(cli, ["import", "tensorboard", str(logdir), "--project", "tb"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Imported 3 run(s) from tensorboard" in result.output

    baseline = imported(logdir / "baseline")
    assert baseline.name == "baseline" and baseline.project == "tb" and baseline.status == "succeeded"
    assert_same_as_tensorboard(baseline, logdir / "baseline")
    assert assert_times(baseline, logdir / "baseline")
    assert_same_as_tensorboard(imported(logdir / "wide" / "seed-1"), logdir / "wide" / "seed-1")

    hparams = imported(logdir / "baseline" / "hparams")
    assert hparams.name == "baseline/hparams"
    assert hparams.inputs == {"lr": 0.01, "batch_size": 32, "optimizer": "adam", "augment": True}
    assert hparams.metric("hparam/accuracy").values.tolist() == [pytest.approx(0.91)]
    assert hparams.meta["imported_from"]["source"] == "tensorboard"


def assert_times(record, folder: Path) -> bool:
    tb = accumulate(folder)
    first = tb.FirstEventTimestamp()
    last = max(e.wall_time for tag in tb.Tags()["scalars"] for e in tb.Scalars(tag))
    assert us(record.started_at.timestamp()) == us(first)
    assert us(record.finished_at.timestamp()) >= us(last)
    return True


def test_importing_twice_adds_nothing(logdir):
    from labbook.importers.tensorboard import import_tensorboard

    first = import_tensorboard(logdir, project="tb")
    assert len(first.created) == 3
    again = import_tensorboard(logdir, project="tb")
    assert again.created == {} and again.existing == first.created
    assert len(labbook.search_runs("tb")) == 3


def test_what_is_not_carried_is_reported(tmp_path):
    root = tmp_path / "tb"
    writer = SummaryWriter(str(root / "audio"))
    writer.add_audio("speech", np.zeros(800, dtype=np.float32), 0, sample_rate=8000)
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    result = CliRunner().invoke(cli, ["import", "tensorboard", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Not carried over:" in result.output and "audio: audio (1)" in result.output


def test_import_of_a_missing_folder_says_so(tmp_path):
    from labbook.errors import ConfigError
    from labbook.importers.tensorboard import import_tensorboard

    with pytest.raises(ConfigError, match="does not exist"):
        import_tensorboard(tmp_path / "nope")
