"""log_audio and log_video: WAV, GIF and MP4 assets that other programs can open."""

from __future__ import annotations

import wave

import numpy as np
import pytest

import labbook
from labbook.errors import InvalidValueError
from labbook.media.typed import read_typed


def events_of(run, kind, name):
    run.flush()
    assert run._writer.errors == []
    return read_typed(labbook.get_run(run.uuid), kind, name)


@pytest.mark.parametrize(
    "samples, channels, width",
    [
        pytest.param(np.sin(np.arange(1000) / 7).astype(np.float32), 1, 2, id="mono-float32"),
        pytest.param(np.random.uniform(-1, 1, (800, 2)), 2, 2, id="stereo-frames-first"),
        pytest.param(np.random.uniform(-1, 1, (2, 800)), 2, 2, id="stereo-channels-first"),
        pytest.param(np.random.randint(-2000, 2000, 900).astype(np.int16), 1, 2, id="int16"),
        pytest.param(np.random.randint(-2**30, 2**30, (700, 3)).astype(np.int32), 3, 4, id="int32"),
        pytest.param(np.random.randint(0, 255, 500).astype(np.uint8), 1, 1, id="uint8"),
        pytest.param(np.random.randint(-5, 5, 600).astype(np.int64), 1, 4, id="int64-in-range"),
    ],
)
def test_wav_has_the_rate_channels_and_length(run_factory, samples, channels, width):
    run = run_factory()
    run.log_audio(samples, "clip", sample_rate=22050, step=3)
    (event,) = events_of(run, "audio", "clip")
    frames = max(samples.shape)
    assert event.value["path"] == "assets/audio/clip_3.wav"
    assert (event.sample_rate, event.num_channels, event.length_frames) == (22050, channels, frames)
    with wave.open(str(event.path), "rb") as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getnframes(), handle.getsampwidth()) == \
            (22050, channels, frames, width)
    rate, read = event.read()
    assert read.shape == (frames, channels)
    if samples.dtype.kind == "f":
        expected = np.rint(np.clip(samples.reshape(frames, -1) if samples.shape[0] == frames
                                   else samples.T, -1, 1) * 32767)
        assert np.abs(read.astype(int) - expected).max() <= 1  # computed in float32
    elif samples.dtype in (np.int16, np.int32):
        assert np.array_equal(read, samples.reshape(frames, channels))


def test_float_samples_outside_the_range_are_clipped_and_counted(run_factory):
    run = run_factory()
    run.log_audio(np.array([0.0, 2.0, -3.0, 0.5]), "loud", sample_rate=8000, step=0)
    (event,) = events_of(run, "audio", "loud")
    assert event.clipped == 2
    assert event.read()[1].ravel().tolist() == [0, 32767, -32767, 16384]


def test_audio_file_is_copied_with_its_header_fields(run_factory, tmp_path):
    path = tmp_path / "voice.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(np.zeros((100, 2), dtype="<i2").tobytes())
    run = run_factory()
    run.log_audio(str(path), step=1)
    (event,) = events_of(run, "audio", "voice")
    assert (event.sample_rate, event.num_channels, event.length_frames) == (16000, 2, 100)
    assert event.path.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param({"data": np.zeros(0)}, "data is empty", id="empty"),
        pytest.param({"data": np.zeros((2, 3, 4))}, "data has shape", id="3-d"),
        pytest.param({"data": np.zeros((100, 64))}, "64 channels", id="spectrogram"),
        pytest.param({"data": np.zeros(10), "sample_rate": 0}, "sample_rate", id="rate-zero"),
        pytest.param({"data": np.zeros(10), "sample_rate": 441.5}, "sample_rate", id="rate-fraction"),
        pytest.param({"data": np.zeros(10, dtype=bool)}, "dtype bool", id="bool"),
        pytest.param({"data": np.array([2**40])}, "int64", id="int64-overflow"),
        pytest.param({"data": np.zeros(10), "content_type": "mp3"}, "content_type", id="mp3"),
    ],
)
def test_bad_audio_is_refused(run_factory, kwargs, message):
    run = run_factory()
    with pytest.raises(InvalidValueError, match=message.replace("(", r"\(")):
        run.log_audio(name="bad", **kwargs)


@pytest.mark.parametrize(
    "shape, content_type, frames, size",
    [
        pytest.param((6, 16, 24, 3), "gif", 6, (16, 24), id="THWC-gif"),
        pytest.param((2, 5, 3, 16, 24), "gif", 5, (16, 48), id="BTCHW-gif"),
        pytest.param((4, 3, 16, 24), "gif", 4, (16, 24), id="TCHW-gif"),
        pytest.param((8, 15, 21, 3), "mp4", 8, (16, 22), id="THWC-mp4-odd-size-padded"),
        pytest.param((3, 10, 12), "mp4", 3, (10, 12), id="THW-mp4"),
    ],
)
# imageio's ffmpeg reader leaves its frame pipe to the garbage collector (a ResourceWarning there)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_video_arrays_are_encoded(run_factory, shape, content_type, frames, size):
    run = run_factory()
    run.log_video(np.random.rand(*shape), "clip", fps=5, step=2, content_type=content_type)
    (event,) = events_of(run, "video", "clip")
    assert event.value["path"] == f"assets/video/clip_2.{content_type}"
    assert (event.frames, event.height, event.width, event.fps) == (frames, *size, 5.0)
    decoded = event.read()
    assert decoded.shape[0] == frames
    assert decoded.shape[1:3] == size


def test_video_file_is_copied(run_factory, tmp_path):
    path = tmp_path / "episode.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    run = run_factory()
    run.log_video(str(path), step=7)
    (event,) = events_of(run, "video", "episode")
    assert event.value == {"path": "assets/video/episode_7.mp4", "content_type": "mp4"}
    assert event.path.read_bytes() == path.read_bytes()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        pytest.param({"data": np.zeros((2, 6, 5, 7))}, "4-D video", id="channels"),
        pytest.param({"data": np.zeros((2, 2, 7, 4, 4))}, "5-D video", id="5-d-channels"),
        pytest.param({"data": np.zeros((4, 4))}, "data has shape", id="2-d"),
        pytest.param({"data": np.zeros((2, 4, 4, 3)), "fps": 0}, "fps", id="fps"),
        pytest.param({"data": np.zeros((2, 4, 4, 3)), "content_type": "avi"}, "content_type", id="avi"),
    ],
)
def test_bad_video_is_refused(run_factory, kwargs, message):
    run = run_factory()
    with pytest.raises(InvalidValueError, match=message):
        run.log_video(name="bad", **kwargs)
