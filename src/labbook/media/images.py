"""Images: from arrays, tensors, PIL images, matplotlib figures and files to PNG assets.

The caller's thread checks the input and keeps a private 8-bit copy (``prepare_image``); the
writer thread tiles a batch into a grid, resizes and encodes it (``image_writer``).
Rules, documented in docs/events.md:

* layouts: ``HW``, ``HWC``, ``CHW``, ``NCHW``, ``NHWC`` (any order of the letters N, C, H, W).
  ``"CHW"``, the default, also reads an ``HWC`` array when its first axis cannot be channels
  but its last can, and means ``HW`` for 2-D and ``NCHW`` (or ``NHWC``) for 4-D arrays;
* channels: 1 (gray), 2 (gray + alpha), 3 (RGB), 4 (RGBA);
* values: ``uint8`` as given; floats are taken in [0, 1] and scaled by 255 (clipped, NaN → 0);
  booleans become 0/255; other integers must lie in [0, 255];
* a batch of N images becomes a grid of ``min(8, N)`` columns.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labbook.errors import InvalidValueError
from labbook.media.arrays import numeric
from labbook.media.optional import need

GRID_COLUMNS = 8
FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP",
           "gif": "GIF", "tif": "TIFF", "tiff": "TIFF"}
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_CHANNELS = (1, 2, 3, 4)


@dataclass
class PreparedImage:
    """An image checked on the caller's thread: a private array (HWC or NHWC) or PIL image."""

    height: int  # of the stored asset (after tiling and rescale)
    width: int
    channels: int
    array: Any = None
    pil: Any = None
    rescale: float = 1.0

    @property
    def data(self) -> Any:
        """The pixels as given: the array, else the PIL image."""
        return self.array if self.array is not None else self.pil

    @property
    def nbytes(self) -> int:
        if self.array is not None:
            return int(self.array.nbytes)
        return self.width * self.height * self.channels


def check_ext(what: str, ext: str | None, default: str = "png") -> str:
    ext = (ext or default).lstrip(".").lower()
    if ext not in FORMATS:
        raise InvalidValueError(
            f"{what}: ext={ext!r} is not an image format labbook writes. Use one of: "
            f"{', '.join(sorted(FORMATS))}."
        )
    return ext


def check_rescale(what: str, rescale: Any) -> float:
    if isinstance(rescale, bool) or not isinstance(rescale, (int, float)) or not 0 < rescale < 1e4:
        raise InvalidValueError(f"{what}: rescale={rescale!r} must be a positive number (1 keeps the size).")
    return float(rescale)


def layout(what: str, argument: str, shape: tuple[int, ...], dataformats: str) -> str:
    """The letters naming each axis of an image array of ``shape`` (see the module docstring)."""
    if not isinstance(dataformats, str):
        raise InvalidValueError(f"{what}: dataformats must be a str such as 'CHW' or 'HWC', got {dataformats!r}.")
    letters = dataformats.upper()
    ndim = len(shape)
    if letters == "CHW" and ndim != 3:
        letters = {2: "HW", 4: "NCHW"}.get(ndim, letters)
    if letters == "CHW" and shape[0] not in _CHANNELS and shape[-1] in _CHANNELS:
        letters = "HWC"
    if letters == "NCHW" and shape[1] not in _CHANNELS and shape[-1] in _CHANNELS:
        letters = "NHWC"
    if len(letters) != ndim or set(letters) - set("NCHW") or len(set(letters)) != ndim or \
            not {"H", "W"} <= set(letters):
        raise InvalidValueError(
            f"{what}: {argument} has shape {shape} but dataformats={dataformats!r}. Pass one letter "
            "per axis from N, C, H, W including H and W, e.g. 'HW', 'HWC', 'CHW', 'NCHW'."
        )
    return letters


def prepare_array(what: str, argument: str, data: Any, dataformats: str, rescale: float,
                  copy: bool = True) -> PreparedImage:
    """Check an image array (numpy, torch, nested lists) and keep a private copy in (N)HWC."""
    import numpy as np

    array = numeric(what, argument, data, ndim=(2, 3, 4), copy=False)
    letters = layout(what, argument, array.shape, dataformats)
    target = ("N" if "N" in letters else "") + "HW" + ("C" if "C" in letters else "")
    array = array.transpose([letters.index(axis) for axis in target])
    if "C" not in letters:
        array = array[..., None]
    channels = array.shape[-1]
    if channels not in _CHANNELS:
        raise InvalidValueError(
            f"{what}: {argument} has {channels} channels (shape {tuple(array.shape)} read as "
            f"{letters}); images have 1, 2, 3 or 4. Check dataformats."
        )
    if array.dtype.kind in "iu" and array.dtype != np.uint8:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise InvalidValueError(
                f"{what}: {argument} is {array.dtype} with values in [{low}, {high}]; integer images "
                "must lie in [0, 255]. Pass uint8, or floats in [0, 1]."
            )
    # Other pixels become uint8 now: the conversion is the private copy, and what waits for the
    # writer is 4 to 8 times smaller than float pixels.
    array = to_uint8(array) if array.dtype != np.uint8 else array.copy() if copy else array
    if array.ndim == 4:
        count, height, width = array.shape[:3]
        columns = min(GRID_COLUMNS, count)
        height, width = height * math.ceil(count / columns), width * columns
    else:
        height, width = array.shape[:2]
    out_h, out_w = scaled((height, width), rescale)
    return PreparedImage(out_h, out_w, channels, array=array, rescale=rescale)


def prepare_pil(image: Any, rescale: float) -> PreparedImage:
    width, height = image.size
    out_h, out_w = scaled((height, width), rescale)
    channels = {"1": 1, "L": 1, "I": 1, "I;16": 1, "F": 1, "LA": 2, "La": 2, "RGBA": 4, "RGBa": 4,
                "P": 4 if "transparency" in image.info else 3}.get(image.mode, 3)
    return PreparedImage(out_h, out_w, channels, pil=image.copy(), rescale=rescale)


def is_pil(data: Any) -> bool:
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(data, module.Image)


def prepare_image(what: str, argument: str, data: Any, dataformats: str, rescale: float) -> PreparedImage:
    if is_pil(data):
        return prepare_pil(data, rescale)
    return prepare_array(what, argument, data, dataformats, rescale)


def scaled(size: tuple[int, int], rescale: float) -> tuple[int, int]:
    if rescale == 1:
        return size
    return max(1, round(size[0] * rescale)), max(1, round(size[1] * rescale))


# -- writer thread -----------------------------------------------------------------------------


def to_uint8(array):
    """8-bit pixels: uint8 kept, bool → 0/255, floats in [0, 1] ×255 (clipped, NaN → 0)."""
    import numpy as np

    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype.kind == "f":
        scaled_values = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0) * 255.0
        return np.clip(scaled_values + 0.5, 0, 255).astype(np.uint8)
    return array.astype(np.uint8)


def tile(batch):
    """One image from an NHWC batch: rows of ``GRID_COLUMNS`` images, black where none."""
    import numpy as np

    count, height, width, channels = batch.shape
    columns = min(GRID_COLUMNS, count)
    rows = math.ceil(count / columns)
    if rows * columns != count:
        pad = np.zeros((rows * columns - count, height, width, channels), dtype=batch.dtype)
        batch = np.concatenate([batch, pad])
    grid = batch.reshape(rows, columns, height, width, channels).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * height, columns * width, channels)


def to_pil(prepared: PreparedImage):
    """The prepared image as a PIL image, at its final size."""
    Image = need("PIL.Image", "Logging images")
    if prepared.pil is not None:
        image = prepared.pil
        if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "P", "I", "I;16"):
            image = image.convert("RGBA" if prepared.channels == 4 else "RGB")
    else:
        pixels = to_uint8(prepared.array)
        if pixels.ndim == 4:
            pixels = tile(pixels)
        channels = pixels.shape[-1]
        image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, _MODES[channels])
    if (image.height, image.width) != (prepared.height, prepared.width):
        image = image.resize((prepared.width, prepared.height), Image.Resampling.LANCZOS)
    return image


def save(image: Any, path: Path, ext: str) -> None:
    fmt = FORMATS[ext]
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    options = {"compress_level": 1} if fmt == "PNG" else {}
    image.save(path, format=fmt, **options)


def image_fields(image: Any, ext: str) -> dict[str, Any]:
    channels = {"1": 1, "L": 1, "I": 1, "I;16": 1, "LA": 2, "RGBA": 4}.get(image.mode, 3)
    return {"height": image.height, "width": image.width, "colorspace": channels, "content_type": ext}


def image_writer(prepared: PreparedImage, ext: str):
    """The writer-thread task body for an image: encode and return the event fields."""

    def write(path: Path) -> dict[str, Any]:
        image = to_pil(prepared)
        save(image, path, ext)
        return image_fields(image, ext)

    return write


def file_image_fields(ext: str):
    """Fields of an image file copied as is (size read from its header, without decoding).
    A file PIL cannot read is kept as given, its size unknown and the reason in ``unreadable``."""

    def write(path: Path) -> dict[str, Any]:
        unknown = {"height": None, "width": None, "colorspace": None, "content_type": ext}
        try:
            from PIL import Image
        except ImportError:  # the file is kept; only its size is unknown
            return unknown
        try:
            with Image.open(path) as image:
                return image_fields(image, ext)
        except Exception as error:  # noqa: BLE001 - any decoding failure: stored as given
            return {**unknown, "unreadable": f"{type(error).__name__}: {error}"[:500]}

    return write


# -- matplotlib --------------------------------------------------------------------------------


def is_figure(data: Any) -> bool:
    module = sys.modules.get("matplotlib.figure")
    return module is not None and isinstance(data, module.Figure)


def render_figure(what: str, argument: str, figure: Any):
    """RGBA pixels of a matplotlib figure, drawn now with Agg (matplotlib is not thread-safe)."""
    import numpy as np

    if not is_figure(figure):
        raise InvalidValueError(
            f"{what}: {argument} must be a matplotlib Figure (or a list of them), got "
            f"{type(figure).__name__}. Pass plt.gcf() or the figure from plt.subplots()."
        )
    backend_agg = need("matplotlib.backends.backend_agg", what)
    previous = figure.canvas
    canvas = previous if hasattr(previous, "buffer_rgba") else backend_agg.FigureCanvasAgg(figure)
    try:
        canvas.draw()
        return np.array(canvas.buffer_rgba(), dtype=np.uint8)
    finally:
        if canvas is not previous:
            figure.set_canvas(previous)


def render_figures(what: str, argument: str, figures: Any):
    """One figure → HWC; a list → NHWC, smaller ones padded with white to the largest."""
    import numpy as np

    if isinstance(figures, (list, tuple)):
        if not figures:
            raise InvalidValueError(f"{what}: {argument} is an empty list; pass at least one figure.")
        images = [render_figure(what, f"{argument}[{i}]", f) for i, f in enumerate(figures)]
        height = max(image.shape[0] for image in images)
        width = max(image.shape[1] for image in images)
        batch = np.full((len(images), height, width, 4), 255, dtype=np.uint8)
        for index, image in enumerate(images):
            batch[index, : image.shape[0], : image.shape[1]] = image
        return batch
    return render_figure(what, argument, figures)


def close_figures(figures: Any) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for figure in figures if isinstance(figures, (list, tuple)) else [figures]:
        pyplot.close(figure)


# -- boxes ---------------------------------------------------------------------------------------


def prepare_boxes(what: str, boxes: Any, labels: Any, scores: Any, rescale: float) -> list[dict[str, Any]]:
    """Boxes (x1, y1, x2, y2 in pixels of the input image) as data, scaled to the stored image."""
    import numpy as np

    from labbook.media.arrays import plain_list, same_length

    array = numeric(what, "tensor_boxes", boxes, ndim=2, allow_empty=True, copy=False)
    if array.shape[1:] != (4,):
        raise InvalidValueError(
            f"{what}: tensor_boxes has shape {array.shape}; it must be (K, 4): one x1, y1, x2, y2 per box."
        )
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InvalidValueError(f"{what}: tensor_boxes holds NaN or infinity; every coordinate must be finite.")
    bad = np.flatnonzero((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))
    if len(bad):
        raise InvalidValueError(
            f"{what}: box {int(bad[0])} of tensor_boxes is {array[bad[0]].tolist()}, with x2 < x1 or "
            "y2 < y1. Boxes are (x1, y1, x2, y2) with the top-left corner first."
        )
    columns = {"box": (array * rescale).tolist()}
    if labels is not None:
        columns["label"] = plain_list(what, "labels", labels)
    if scores is not None:
        columns["score"] = numeric(what, "scores", scores, ndim=1, allow_empty=True, copy=False).astype(
            np.float64).tolist()
    same_length(what, **{"tensor_boxes" if k == "box" else k + "s": v for k, v in columns.items()})
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


def draw_boxes(image: Any, boxes: list[dict[str, Any]]):
    """A copy of ``image`` with each box outlined in red and its label and score written above."""
    ImageDraw = need("PIL.ImageDraw", "Drawing boxes on images")
    canvas = image.convert("RGBA" if image.mode in ("LA", "RGBA", "P") else "RGB")
    draw = ImageDraw.Draw(canvas)
    for box in boxes:
        draw.rectangle(box["box"], outline=(255, 0, 0), width=2)
        caption = " ".join(
            str(part) for part in (box.get("label"), None if box.get("score") is None else f"{box['score']:.2f}")
            if part is not None
        )
        if caption:
            x1, y1 = box["box"][0], box["box"][1]
            draw.text((x1 + 2, max(0, y1 - 11)), caption, fill=(255, 0, 0))
    return canvas


def boxes_writer(prepared: PreparedImage, boxes: list[dict[str, Any]], root: Path):
    """Writes the drawn image at the asset path and the clean one beside it (``.raw.png``)."""

    def write(path: Path) -> dict[str, Any]:
        image = to_pil(prepared)
        raw = path.with_name(path.name[: -len(".png")] + ".raw.png")
        save(image, raw, "png")
        drawn = draw_boxes(image, boxes)
        save(drawn, path, "png")
        return {**image_fields(drawn, "png"), "raw_path": raw.relative_to(root).as_posix(), "boxes": boxes}

    return write
