"""Inputs from the user's ecosystem: tensors by duck typing, and optional libraries that are missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import labbook
from labbook.errors import MissingDependencyError
from labbook.media.typed import read_typed

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_media.py"


class DeviceTensor:
    """Behaves as a torch tensor on a GPU does: no numpy view until detached and copied to the CPU."""

    def __init__(self, array, device="cuda:0"):
        self._array = np.asarray(array)
        self.device = device
        self.shape = self._array.shape

    def detach(self):
        return DeviceTensor(self._array, self.device)

    def cpu(self):
        return DeviceTensor(self._array.copy(), "cpu")

    def numpy(self):
        if self.device != "cpu":
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() first.")
        return self._array

    def __array__(self, *args, **kwargs):
        raise TypeError("numpy() must go through .cpu() for a device tensor")


def test_device_tensors_are_accepted_everywhere_arrays_are(run_factory):
    run = run_factory()
    run.log_image(DeviceTensor(np.random.rand(3, 8, 8)), "img", step=1)
    run.log_audio(DeviceTensor(np.zeros(100, dtype=np.float32)), "snd", sample_rate=8000, step=1)
    run.log_video(DeviceTensor(np.random.rand(1, 2, 3, 4, 4)), "vid", step=1)
    run.log_histogram("hist", DeviceTensor(np.arange(10.0)), 5, step=1)
    run.log_curve("curve", DeviceTensor(np.arange(3.0)), DeviceTensor(np.ones(3)), step=1)
    run.log_image_with_boxes(DeviceTensor(np.zeros((8, 8))), DeviceTensor(np.array([[1, 1, 4, 4]])), "boxes",
                             step=1)
    run.log_sklearn_roc_auc_curve("roc", DeviceTensor(np.array([0.1, 0.9, 0.8])),
                                  DeviceTensor(np.array([0, 1, 1])), step=1)
    run.flush()
    assert run._writer.errors == []
    record = labbook.get_run(run.uuid)
    assert read_typed(record, "image", "img")[0].open().size == (8, 8)
    assert read_typed(record, "audio", "snd")[0].length_frames == 100
    assert read_typed(record, "video", "vid")[0].frames == 2
    assert read_typed(record, "histogram", "hist")[0].counts.tolist() == [2] * 5
    assert read_typed(record, "curve", "curve")[0].y.tolist() == [1.0] * 3
    assert read_typed(record, "curve", "roc")[0].auc == 1.0


@pytest.mark.parametrize(
    "module, extra, call",
    [
        pytest.param("PIL.Image", "images", lambda r: r.log_video(np.zeros((2, 4, 4, 3)), "v"), id="gif"),
        pytest.param("imageio_ffmpeg", "video",
                     lambda r: r.log_video(np.zeros((2, 4, 4, 3)), "v", content_type="mp4"), id="mp4"),
        pytest.param("plotly.graph_objects", "plots", lambda r: r.log_plotly_chart("c", {"data": []}),
                     id="plotly"),
        pytest.param("bokeh.embed", "plots", lambda r: r.log_bokeh_chart("c", object()), id="bokeh"),
        pytest.param("altair", "plots", lambda r: r.log_altair_chart("c", {}), id="altair"),
        pytest.param("pandas", "data", lambda r: r.log_dataframe([], "d"), id="pandas"),
        pytest.param("sklearn.metrics", "sklearn", lambda r: r.log_sklearn_pr_curve("c", [0.2], [1]),
                     id="sklearn"),
    ],
)
def test_a_missing_library_names_its_extra(run_factory, monkeypatch, module, extra, call):
    run = run_factory()
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError, match=rf"pip install 'labbook\[{extra}\]'"):
        call(run)


def test_media_benchmark_runs_end_to_end():
    result = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for label in ("images", "audio", "plotly charts", "baseline: per-sample"):
        assert label in result.stdout
