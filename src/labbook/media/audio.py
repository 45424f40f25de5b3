"""Audio: numpy arrays or tensors to WAV, written with one vectorised conversion.

Arrays are 1-D (mono) or 2-D with channels on the smaller axis: ``(frames, channels)`` as
soundfile gives, or ``(channels, frames)`` as torchaudio gives. Floats are taken in [-1, 1]
(values outside are clipped, and the count is recorded) and written as 16-bit PCM; ``int16``
and ``int32`` are written as 16- and 32-bit PCM, ``uint8`` and ``int8`` as 8-bit PCM.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labbook.errors import InvalidValueError
from labbook.media.arrays import numeric

MAX_SAMPLE_RATE = 10_000_000
MAX_CHANNELS = 32


@dataclass
class PreparedAudio:
    samples: Any  # (frames, channels), a private copy
    sample_rate: int


def check_sample_rate(what: str, sample_rate: Any) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float)) or \
            not 0 < sample_rate <= MAX_SAMPLE_RATE or int(sample_rate) != sample_rate:
        raise InvalidValueError(
            f"{what}: sample_rate={sample_rate!r} must be a positive whole number of samples per "
            "second, e.g. 16000 or 44100."
        )
    return int(sample_rate)


def prepare_audio(what: str, argument: str, data: Any, sample_rate: Any) -> PreparedAudio:
    import numpy as np

    rate = check_sample_rate(what, sample_rate)
    samples = numeric(what, argument, data, ndim=(1, 2))
    if samples.ndim == 1:
        samples = samples[:, None]
    elif samples.shape[0] < samples.shape[1]:
        samples = samples.T  # (channels, frames) → (frames, channels)
    if samples.shape[1] > MAX_CHANNELS:
        raise InvalidValueError(
            f"{what}: {argument} has shape {tuple(data.shape) if hasattr(data, 'shape') else samples.shape}, "
            f"read as {samples.shape[0]} frames of {samples.shape[1]} channels; audio has at most "
            f"{MAX_CHANNELS}. Pass (frames, channels) or (channels, frames) samples, not a spectrogram."
        )
    kind = samples.dtype
    if kind.kind == "f" or kind in (np.int8, np.uint8, np.int16, np.int32):
        return PreparedAudio(samples, rate)
    if kind.kind in "iu":
        low, high = int(samples.min()), int(samples.max())
        if -(2**31) <= low and high < 2**31:
            return PreparedAudio(samples.astype(np.int32), rate)
    raise InvalidValueError(
        f"{what}: {argument} has dtype {kind}"
        + (f" with values in [{low}, {high}]" if kind.kind in "iu" else "")
        + "; audio takes floats in [-1, 1] or int8, uint8, int16, int32 samples."
    )


def pcm(samples):
    """(frames, channels) → (PCM bytes, sample width, clipped count), vectorised."""
    import numpy as np

    clipped = 0
    if samples.dtype.kind == "f":
        values = samples.astype(np.float32, copy=False)
        low, high = float(values.min()), float(values.max())
        if low != low or high != high:  # NaN present: silence it (rare, so checked this way)
            values = np.nan_to_num(values, nan=0.0)
            low, high = float(values.min()), float(values.max())
        if low < -1.0 or high > 1.0:
            clipped = int(np.count_nonzero((values < -1.0) | (values > 1.0)))
            values = np.clip(values, -1.0, 1.0)
        scaled = values * np.float32(32767.0)
        out = np.rint(scaled, out=scaled).astype("<i2")
    elif samples.dtype == np.int8:
        out = (samples.astype(np.int16) + 128).astype(np.uint8)  # 8-bit WAV is unsigned
    elif samples.dtype == np.uint8:
        out = samples
    elif samples.dtype == np.int16:
        out = samples.astype("<i2", copy=False)
    else:
        out = samples.astype("<i4", copy=False)
    return np.ascontiguousarray(out).tobytes(), out.dtype.itemsize, clipped


def audio_writer(prepared: PreparedAudio):
    def write(path: Path) -> dict[str, Any]:
        frames, channels = prepared.samples.shape
        data, width, clipped = pcm(prepared.samples)
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(channels)
            handle.setsampwidth(width)
            handle.setframerate(prepared.sample_rate)
            handle.writeframes(data)
        return {"sample_rate": prepared.sample_rate, "num_channels": channels, "length_frames": frames,
                "sample_width": width * 8, "clipped": clipped, "content_type": "wav"}

    return write


def file_audio_fields(ext: str, sample_rate: int):
    """Fields of an audio file copied as is: read from it when it is a WAV file."""

    def write(path: Path) -> dict[str, Any]:
        fields: dict[str, Any] = {"content_type": ext}
        if ext == "wav":
            try:
                with wave.open(str(path), "rb") as handle:
                    return {**fields, "sample_rate": handle.getframerate(),
                            "num_channels": handle.getnchannels(), "length_frames": handle.getnframes()}
            except (wave.Error, EOFError):
                pass
        return {**fields, "sample_rate": sample_rate}

    return write
