"""Video: ``[B, T, C, H, W]``, ``[T, H, W, C]`` (or ``[T, C, H, W]``, ``[T, H, W]``) arrays to GIF or MP4.

A batch (5-D) is tiled into a grid per frame, as images are. GIF is written with Pillow
(extra ``images``), MP4 (H.264) with imageio and imageio-ffmpeg (extra ``video``); MP4 frames are
padded with black to even sizes, which H.264 needs. Pixel values follow the image rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labbook.errors import InvalidValueError
from labbook.media.arrays import numeric
from labbook.media.optional import need

ENCODED = ("gif", "mp4")
_CHANNELS = (1, 2, 3, 4)


@dataclass
class PreparedVideo:
    frames: Any  # (T, H, W, C) or (B, T, H, W, C), a private copy
    fps: float


def check_fps(what: str, fps: Any) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 1000:
        raise InvalidValueError(f"{what}: fps={fps!r} must be a positive number of frames per second.")
    return float(fps)


def check_content_type(what: str, content_type: Any) -> str:
    kind = str(getattr(content_type, "value", content_type) or "gif").lstrip(".").lower()
    if kind not in ENCODED:
        raise InvalidValueError(
            f"{what}: content_type={content_type!r} cannot be encoded from an array; use 'gif' or 'mp4' "
            "(or pass a video file, which is copied as is)."
        )
    return kind


def require_encoder(what: str, kind: str) -> None:
    """Fail on the caller's thread when the library an encoding needs is missing."""
    if kind == "gif":
        need("PIL.Image", f"{what} as GIF")
    else:
        need("imageio.v2", f"{what} as MP4")
        need("imageio_ffmpeg", f"{what} as MP4")


def prepare_video(what: str, argument: str, data: Any, fps: Any) -> PreparedVideo:
    rate = check_fps(what, fps)
    frames = numeric(what, argument, data, ndim=(3, 4, 5))
    if frames.ndim == 5:  # [B, T, C, H, W]
        if frames.shape[2] not in _CHANNELS:
            raise InvalidValueError(
                f"{what}: {argument} has shape {frames.shape}; a 5-D video is [B, T, C, H, W] with "
                "1 to 4 channels."
            )
        frames = frames.transpose(0, 1, 3, 4, 2)
    elif frames.ndim == 4:  # [T, H, W, C], or [T, C, H, W] when only that reading has channels
        if frames.shape[-1] not in _CHANNELS and frames.shape[1] in _CHANNELS:
            frames = frames.transpose(0, 2, 3, 1)
        if frames.shape[-1] not in _CHANNELS:
            raise InvalidValueError(
                f"{what}: {argument} has shape {frames.shape}; a 4-D video is [T, H, W, C] with 1 to 4 channels."
            )
    else:  # [T, H, W]
        frames = frames[..., None]
    return PreparedVideo(frames, rate)


def rgb_frames(prepared: PreparedVideo):
    """(T, H, W, 3) uint8 frames: batches tiled, gray repeated, alpha dropped."""
    import numpy as np

    from labbook.media.images import tile, to_uint8

    frames = to_uint8(prepared.frames)
    if frames.ndim == 5:
        frames = np.stack([tile(frames[:, t]) for t in range(frames.shape[1])])
    channels = frames.shape[-1]
    if channels in (1, 2):
        frames = np.repeat(frames[..., :1], 3, axis=-1)
    elif channels == 4:
        frames = frames[..., :3]
    return np.ascontiguousarray(frames)


def video_writer(prepared: PreparedVideo, kind: str):
    def write(path: Path) -> dict[str, Any]:
        import numpy as np

        frames = rgb_frames(prepared)
        if kind == "gif":
            Image = need("PIL.Image", "Logging a video as GIF")
            images = [Image.fromarray(frame) for frame in frames]
            images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                           duration=max(1, round(1000 / prepared.fps)), loop=0)
        else:
            imageio = need("imageio.v2", "Logging a video as MP4")
            need("imageio_ffmpeg", "Logging a video as MP4")
            pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
            if pad_h or pad_w:
                frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
            with imageio.get_writer(path, format="FFMPEG", mode="I", fps=prepared.fps, codec="libx264",
                                    pixelformat="yuv420p", macro_block_size=1) as writer:
                for frame in frames:
                    writer.append_data(frame)
        _, height, width, _ = frames.shape
        return {"height": int(height), "width": int(width), "colorspace": 3, "frames": len(frames),
                "fps": prepared.fps, "content_type": kind}

    return write
