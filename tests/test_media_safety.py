"""Media assets never escape the run folder and are never dropped, not even on a full disk."""

from __future__ import annotations

import errno
import math
from pathlib import Path

import numpy as np
import orjson
import pytest

import labbook
from labbook.errors import PathEscapeError
from labbook.media.typed import read_typed


def _events(run, kind, name):
    run.flush()
    return read_typed(labbook.get_run(run.uuid), kind, name)


def _outside_is_empty(outside: Path) -> None:
    assert sorted(p.name for p in outside.rglob("*")) == []


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("call", [
    pytest.param(lambda run, f: run.log_image(f, "n", step=1, ext="png/../../../../../escaped"), id="image-ext"),
    pytest.param(lambda run, f: run.log_image(f, "n", step=1, ext="../x"), id="image-ext-dotdot"),
    pytest.param(lambda run, f: run.log_video(f, "n", step=1, content_type="mp4/../../../../../escaped"),
                 id="video-content-type"),
    pytest.param(lambda run, f: run.log_audio(f, "n", step=1, content_type="wav/../../../escaped"),
                 id="audio-content-type"),
    pytest.param(lambda run, f: run.log_audio(f, "n", step=1, content_type="wav\x00"), id="audio-nul"),
])
def test_extensions_and_content_types_cannot_leave_the_run_folder(run_factory, tmp_path, call):
    run = run_factory()
    source = tmp_path / "x.png"
    source.write_bytes(b"\x89PNG not really")
    with pytest.raises(PathEscapeError, match="(ext|content_type)"):
        call(run, str(source))
    run.end()
    found = [p for p in tmp_path.rglob("*escaped*")]
    assert found == []
    assert not (run.path / "assets").exists() or [p for p in (run.path / "assets").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("data", [pytest.param("file", id="file"), pytest.param("array", id="array")])
def test_a_link_planted_in_assets_is_not_written_through(run_factory, tmp_path, outside, data):
    run = run_factory()
    (run.path / "assets").mkdir(exist_ok=True)
    (run.path / "assets" / "image").symlink_to(outside)
    source = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (4, 4)).save(source)
    with pytest.raises(PathEscapeError, match="symbolic link"):
        run.log_image(str(source) if data == "file" else np.zeros((4, 4)), "n", step=1)
    run.end()
    _outside_is_empty(outside)


def test_a_link_planted_for_one_asset_file_is_not_followed(run_factory, outside):
    run = run_factory()
    folder = run.path / "assets" / "image"
    folder.mkdir(parents=True)
    (folder / "n_1.png").symlink_to(outside / "target.png")
    run.log_image(np.zeros((4, 4)), "n", step=1)
    [event] = _events(run, "image", "n")
    assert event.value["path"] == "assets/image/n_1-1.png" and event.open().size == (4, 4)
    _outside_is_empty(outside)


def test_a_file_that_cannot_be_decoded_is_stored_as_given(run_factory, tmp_path):
    run = run_factory()
    source = tmp_path / "broken.png"
    source.write_bytes(b"this is not a PNG")
    run.log_image(str(source), "broken", step=1)
    run.end()
    [event] = _events(run, "image", "broken")
    assert event.path.read_bytes() == b"this is not a PNG"
    assert event.height is None and event.width is None and event.content_type == "png"
    assert "cannot identify image" in event.value["unreadable"]
    assert run._writer.errors == []


def test_an_array_that_cannot_be_encoded_is_stored_as_given(run_factory, monkeypatch):
    from PIL import Image

    def failing_save(self, *args, **kwargs):
        raise OSError("encoder error -2")  # what a broken codec raises

    run = run_factory()
    pixels = np.random.randint(0, 256, (4, 5, 3), dtype=np.uint8)
    with monkeypatch.context() as patch:
        patch.setattr(Image.Image, "save", failing_save)
        run.log_image(pixels, "img", step=2, dataformats="HWC")
        run.flush()
    [event] = _events(run, "image", "img")
    assert event.value["path"] == "assets/image/img_2.npy" and event.content_type == "npy"
    assert "encoder error" in event.value["encode_error"]
    assert np.array_equal(np.load(event.path), pixels)


def test_nan_auc_and_average_precision_are_kept_as_text(run_factory):
    run = run_factory()
    run.log_roc_auc_curve("roc", [0, 1], [0, 1], auc=float("nan"), step=1)
    run.log_pr_curve("pr", [1, 0], [0, 1], average_precision=float("inf"), step=1)
    [roc] = _events(run, "curve", "roc")
    [pr] = _events(run, "curve", "pr")
    assert roc.value["auc"] == "nan" and pr.value["average_precision"] == "inf"
    assert math.isnan(float(roc.value["auc"]))


# -- a full disk --------------------------------------------------------------------------------


def _files_sound(run, name: str) -> None:
    """Every asset an event names exists and is whole; no other asset file is lying around."""
    named = set()
    for event in _events(run, "image", name):
        assert event.path.is_file() and event.open().size  # decodes: whole
        named.add(event.path)
    on_disk = {p for p in (run.path / "assets").rglob("*") if p.is_file()}
    assert on_disk == named, on_disk ^ named


def test_a_full_disk_while_logging_media_loses_nothing_logged_before(small_disk, monkeypatch, run_factory,
                                                                      tmp_path):
    monkeypatch.setenv("LABBOOK_HOME", str(small_disk.path / ".labbook"))
    run = run_factory()
    run.log_image(np.zeros((8, 8)), "n", step=0)
    source = tmp_path / "big.png"
    from PIL import Image

    Image.fromarray(np.random.randint(0, 255, (512, 512, 3), dtype=np.uint8)).save(source)
    run.flush()
    small_disk.fill()
    with pytest.raises(OSError) as raised:  # the file is copied at the call: the error is there
        run.log_image(str(source), "n", step=1)
    assert raised.value.errno == errno.ENOSPC
    with pytest.raises(OSError) as raised:  # encoded off the thread: the failure surfaces next
        run.log_image(np.random.rand(256, 256, 3), "n", step=2, dataformats="HWC")
        run.flush()
    assert raised.value.errno == errno.ENOSPC
    small_disk.free()
    run.flush()  # the writer retries what it kept pending: the failure is over
    run.log_image(str(source), "n", step=3)
    run.log_image(np.zeros((8, 8)), "n", step=4)
    run.end()
    # The image that could not be stored while the disk was full is counted, not silently gone.
    dropped = orjson.loads((run.path / "run.json").read_bytes())["dropped"]
    assert [entry["disk_full"]["count"] for entry in dropped.values()] == [1]
    assert [e.step for e in _events(run, "image", "n")] == [0, 3, 4]
    _files_sound(run, "n")
    for path in (run.path / "events").rglob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            orjson.loads(line)
    from labbook.config import Settings
    from labbook.workspace import Workspace

    settings = Settings.load({})
    with Workspace(settings) as workspace:
        result = workspace.reindex()
    assert (result["indexed"], result["failed"], result["damaged"]) == (1, 0, [])


def test_a_link_planted_after_the_first_image_is_refused_by_the_writer(run_factory, outside):
    run = run_factory()
    run.log_image(np.zeros((4, 4)), "n", step=1)
    run.flush()
    folder = run.path / "assets" / "image"
    folder.rename(run.path / "assets" / "moved")
    folder.symlink_to(outside)  # the call's check is cached: the writer thread checks again
    run.log_image(np.zeros((4, 4)), "n", step=2)
    run.flush()
    assert any("symbolic link" in error for error in run._writer.errors)
    _outside_is_empty(outside)
    run._writer.errors.clear()


@pytest.mark.parametrize("kind", ["metric", "text"])
def test_a_link_planted_for_an_event_series_is_not_written_through(run_factory, outside, kind):
    run = run_factory()
    (run.path / "events").mkdir(exist_ok=True)
    (run.path / "events" / kind).symlink_to(outside)
    from labbook.errors import LabbookError

    with pytest.raises(LabbookError, match="symbolic link"):
        run.log_metric("m", 1.0, step=0) if kind == "metric" else run.log_text("m", "x", step=0)
        run.flush()
        run.log_metric("m", 2.0, step=1) if kind == "metric" else run.log_text("m", "y", step=1)
    _outside_is_empty(outside)
    (run.path / "events" / kind).unlink()  # the link gone, what was kept pending is written
    run.end()
    record = labbook.get_run(run.uuid)
    if kind == "metric":
        assert record.metric("m").values.tolist() == [1.0]
    else:
        assert [e.value for e in record.events("text", "m")] == ["x"]
    _outside_is_empty(outside)
