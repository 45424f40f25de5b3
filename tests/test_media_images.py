"""log_image, log_image_with_boxes and log_mpl_image: what lands in the run folder and reads back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import labbook
from labbook.errors import InvalidValueError, MissingDependencyError, RunStateError
from labbook.media.images import layout, tile, to_uint8
from labbook.media.typed import read_typed


def images_of(run, name):
    run.flush()
    return read_typed(labbook.get_run(run.uuid), "image", name)


@pytest.mark.parametrize(
    "shape, dataformats, size, colorspace",
    [
        pytest.param((20, 30), "CHW", (20, 30), 1, id="HW-with-default"),
        pytest.param((3, 20, 30), "CHW", (20, 30), 3, id="CHW"),
        pytest.param((20, 30, 3), "CHW", (20, 30), 3, id="HWC-read-by-default"),
        pytest.param((20, 30, 4), "HWC", (20, 30), 4, id="HWC-rgba"),
        pytest.param((1, 20, 30), "CHW", (20, 30), 1, id="CHW-gray"),
        pytest.param((30, 20, 3), "WHC", (20, 30), 3, id="WHC"),
        pytest.param((5, 3, 20, 30), "CHW", (20, 150), 3, id="NCHW-one-row"),
        pytest.param((10, 3, 20, 30), "NCHW", (40, 8 * 30), 3, id="NCHW-two-rows"),
        pytest.param((2, 20, 30, 3), "NHWC", (20, 60), 3, id="NHWC"),
    ],
)
def test_array_layouts_give_the_expected_png(run_factory, shape, dataformats, size, colorspace):
    run = run_factory()
    run.log_image(np.random.rand(*shape), "img", step=2, dataformats=dataformats)
    (event,) = images_of(run, "img")
    assert event.value["path"] == "assets/image/img_2.png"
    assert (event.height, event.width, event.colorspace) == (*size, colorspace)
    image = event.open()
    assert image.format == "PNG"
    assert (image.height, image.width) == size


def test_uint8_pixels_round_trip_exactly(run_factory):
    run = run_factory()
    pixels = np.random.randint(0, 256, size=(16, 24, 3), dtype=np.uint8)
    run.log_image(pixels, "exact", step=0, dataformats="HWC")
    assert np.array_equal(images_of(run, "exact")[0].to_numpy(), pixels)


def test_grid_places_each_image_in_order():
    batch = np.stack([np.full((2, 3, 1), i, dtype=np.uint8) for i in range(10)])
    grid = tile(batch)
    assert grid.shape == (4, 24, 1)
    assert grid[0, 0, 0] == 0 and grid[0, 3 * 7, 0] == 7 and grid[2, 0, 0] == 8 and grid[2, 3, 0] == 9
    assert grid[2, 3 * 2, 0] == 0  # padding after the last image


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
                      elements=st.floats(-2, 3) | st.just(float("nan"))),
)
def test_float_pixels_are_scaled_rounded_and_clipped(values):
    out = to_uint8(values)
    expected = np.clip(np.round(np.nan_to_num(values, nan=0.0) * 255), 0, 255)
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1  # float32 rounding at .5


@settings(max_examples=30, deadline=None)
@given(
    ndim=st.sampled_from([2, 3, 4]),
    channels=st.sampled_from([1, 2, 3, 4]),
    height=st.integers(1, 7),
    width=st.integers(1, 7),
    batch=st.integers(1, 10),
    dtype=st.sampled_from([np.uint8, np.float32, np.float64, np.bool_, np.int32]),
)
def test_any_valid_array_becomes_an_image_of_the_predicted_size(ndim, channels, height, width,
                                                                 batch, dtype):
    from labbook.media.images import prepare_array, to_pil

    shape = {2: (height, width), 3: (channels, height, width), 4: (batch, channels, height, width)}[ndim]
    data = (np.random.rand(*shape) * (255 if dtype == np.int32 else 1)).astype(dtype)
    prepared = prepare_array("log_image", "data", data, "CHW", 1.0)
    image = to_pil(prepared)
    assert (image.height, image.width) == (prepared.height, prepared.width)
    columns = min(8, batch) if ndim == 4 else 1
    rows = -(-batch // columns) if ndim == 4 else 1
    assert (image.height, image.width) == (height * rows, width * columns)


def test_layout_rules():
    assert layout("f", "data", (3, 4, 5), "CHW") == "CHW"
    assert layout("f", "data", (40, 50, 3), "CHW") == "HWC"
    assert layout("f", "data", (40, 50), "CHW") == "HW"
    assert layout("f", "data", (2, 40, 50, 3), "CHW") == "NHWC"


def test_rescale_and_jpeg(run_factory):
    run = run_factory()
    run.log_image(np.random.rand(3, 20, 40), "small", step=1, rescale=0.5, ext="jpg")
    (event,) = images_of(run, "small")
    assert event.value["path"] == "assets/image/small_1.jpg"
    image = event.open()
    assert (image.format, image.size) == ("JPEG", (20, 10))


def test_pil_image_and_file_path(run_factory, tmp_path):
    run = run_factory()
    picture = Image.new("RGB", (12, 7), (10, 200, 30))
    run.log_image(picture, "pil", step=1)
    path = tmp_path / "photo.png"
    picture.save(path)
    run.log_image(str(path), step=3)
    pil_event = images_of(run, "pil")[0]
    assert pil_event.open().getpixel((0, 0)) == (10, 200, 30)
    file_event = images_of(run, "photo")[0]
    assert file_event.value["path"] == "assets/image/photo_3.png"
    assert (file_event.width, file_event.height) == (12, 7)
    assert file_event.path.read_bytes() == path.read_bytes()


def test_same_step_twice_keeps_both_files(run_factory):
    run = run_factory()
    run.log_image(np.zeros((4, 4)), "again", step=1)
    run.log_image(np.ones((4, 4)), "again", step=1)
    events = images_of(run, "again")
    assert sorted(e.value["path"] for e in events) == ["assets/image/again_1-1.png", "assets/image/again_1.png"]
    assert {int(e.to_numpy().max()) for e in events} == {0, 255}


def test_caller_changes_after_logging_do_not_leak_into_the_asset(run_factory):
    run = run_factory()
    pixels = np.zeros((8, 8), dtype=np.uint8)
    run.log_image(pixels, "snapshot", step=0)
    pixels[:] = 255
    assert images_of(run, "snapshot")[0].to_numpy().max() == 0


def test_boxes_are_drawn_and_kept_as_data(run_factory):
    run = run_factory()
    image = np.zeros((3, 40, 60), dtype=np.float32)
    run.log_image_with_boxes(image, np.array([[5, 5, 20, 30], [30, 10, 50, 35]]), "det", step=4,
                             labels=["cat", 7], scores=[0.9, 0.25])
    (event,) = images_of(run, "det")
    assert event.boxes == [{"box": [5.0, 5.0, 20.0, 30.0], "label": "cat", "score": 0.9},
                           {"box": [30.0, 10.0, 50.0, 35.0], "label": 7, "score": 0.25}]
    drawn, raw = event.to_numpy(), event.to_numpy(raw=True)
    assert tuple(drawn[5, 10][:3]) == (255, 0, 0)  # top edge of the first box is red
    assert raw.max() == 0  # the clean image has no boxes
    assert event.value["raw_path"] == "assets/image/det_4.raw.png"


def test_mpl_figures_are_rendered_and_closed(run_factory):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = run_factory()
    figures = [plt.figure(figsize=(2, 1), dpi=50), plt.figure(figsize=(1, 1), dpi=50)]
    figures[0].gca().plot([0, 1], [1, 0])
    run.log_mpl_image(figures, "figs", step=1)
    assert not any(plt.fignum_exists(f.number) for f in figures)
    kept = plt.figure(figsize=(1, 1), dpi=40)
    run.log_mpl_image(kept, "kept", step=1, close=False)
    assert plt.fignum_exists(kept.number)
    plt.close(kept)
    grid = images_of(run, "figs")[0]
    assert (grid.height, grid.width) == (50, 200)  # two figures side by side, padded to the largest
    assert images_of(run, "kept")[0].open().size == (40, 40)


@pytest.mark.parametrize(
    "call, argument",
    [
        pytest.param(lambda run: run.log_image(np.zeros((2, 3, 4, 5, 6)), "x"), "data", id="5-d"),
        pytest.param(lambda run: run.log_image(np.zeros((5, 20, 30)), "x"), "channels", id="5-channels"),
        pytest.param(lambda run: run.log_image(np.zeros((0, 4)), "x"), "data is empty", id="empty"),
        pytest.param(lambda run: run.log_image(np.array([["a"]]), "x"), "dtype", id="strings"),
        pytest.param(lambda run: run.log_image(np.full((4, 4), 300, dtype=np.int32), "x"), "[0, 255]",
                     id="int-range"),
        pytest.param(lambda run: run.log_image(np.zeros((4, 4)), "x", dataformats="HWQ"), "dataformats",
                     id="bad-dataformats"),
        pytest.param(lambda run: run.log_image(np.zeros((4, 4)), "x", rescale=0), "rescale", id="rescale"),
        pytest.param(lambda run: run.log_image(np.zeros((4, 4)), "x", ext="exr"), "ext", id="ext"),
        pytest.param(lambda run: run.log_image("missing.png", "x"), "not an existing file", id="no-file"),
        pytest.param(lambda run: run.log_image_with_boxes(np.zeros((4, 4)), [[1, 2, 3]], "x"),
                     "tensor_boxes", id="box-shape"),
        pytest.param(lambda run: run.log_image_with_boxes(np.zeros((4, 4)), [[3, 2, 1, 4]], "x"),
                     "x2 < x1", id="box-order"),
        pytest.param(lambda run: run.log_image_with_boxes(np.zeros((4, 4)), [[1, 1, 2, 2]], "x",
                                                          labels=["a", "b"]), "labels has 2", id="labels"),
        pytest.param(lambda run: run.log_mpl_image("not a figure", "x"), "matplotlib Figure", id="mpl"),
    ],
)
def test_bad_input_is_refused_on_the_callers_thread(run_factory, call, argument):
    run = run_factory()
    with pytest.raises(InvalidValueError) as info:
        call(run)
    assert argument in str(info.value)
    run.flush()
    assert run._writer.errors == []


def test_logging_after_end_is_refused(run_factory):
    run = run_factory()
    run.end()
    with pytest.raises(RunStateError, match="has ended"):
        run.log_image(np.zeros((2, 2)), "late")


def test_missing_pillow_names_the_extra(run_factory, monkeypatch):
    import sys

    run = run_factory()
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(MissingDependencyError, match=r"labbook\[images\]"):
        run.log_image(np.zeros((2, 2)), "x")


def test_bytes_that_cannot_be_decoded_are_stored_as_given_not_dropped(run_factory):
    class SummaryImage:  # a TensorFlow summary image whose bytes are not an image
        encoded_image_string = b"not a png"

    run = run_factory()
    run.log_image(SummaryImage(), "broken", step=1)
    run.log_image(np.zeros((4, 4)), "fine", step=1)
    run.flush()
    assert run._writer.errors == []
    assert sorted(p.name for p in (run.path / "assets" / "image").iterdir()) == ["broken_1.png", "fine_1.png"]
    assert labbook.get_run(run.uuid).event_names("image") == ["broken", "fine"]
    [broken] = images_of(run, "broken")
    assert broken.path.read_bytes() == b"not a png" and broken.width is None
    assert "UnidentifiedImageError" in broken.value["unreadable"]
