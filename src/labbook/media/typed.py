"""Typed views of rich events as read back from a run folder.

``labbook.get_run(uuid).events("image", "samples")`` returns these: a class per kind, with the
stored JSON as ``value``, numpy arrays and a way to open each asset (``read_typed`` does the
same for anything with a ``path`` and ``events``)::

    from labbook.media.typed import read_typed

    for image in read_typed(labbook.get_run(uuid), "image", "samples"):
        print(image.step, image.width, image.height)
        pixels = image.open()              # a PIL image
    rate, samples = read_typed(run, "audio", "tone")[0].read()
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from labbook.media.optional import need
from labbook.store.layout import safe_join


@dataclass(frozen=True)
class MediaEvent:
    """One rich event: ``step``, ``timestamp``, the stored ``value``, the run folder it belongs to and
    the ``writer`` that wrote it: the fields of ``labbook.runs.Event`` plus typed accessors."""

    step: int | None
    timestamp: datetime
    value: dict[str, Any]
    run_path: Path
    writer: str = ""

    @property
    def path(self) -> Path | None:
        """The asset file, inside the run folder (None for kinds without one)."""
        rel = self.value.get("path") if isinstance(self.value, dict) else None
        return safe_join(self.run_path, rel, "asset path") if rel else None

    @property
    def content_type(self) -> str | None:
        return self.value.get("content_type")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self.value[key]
        except (KeyError, TypeError):
            raise AttributeError(f"{type(self).__name__} has no field {key!r}") from None


def _floats(values: list) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.float64)  # 'nan', 'inf', '-inf' parse back


class ImageEvent(MediaEvent):
    """``height``, ``width``, ``colorspace``, ``path``; boxes events add ``boxes`` and ``raw_path``."""

    def open(self, raw: bool = False):
        """The image as a loaded PIL image (``raw=True``: without the drawn boxes)."""
        Image = need("PIL.Image", "Opening a logged image")
        path = safe_join(self.run_path, self.value["raw_path"], "asset path") if raw else self.path
        with Image.open(path) as image:
            image.load()
            return image

    def to_numpy(self, raw: bool = False):
        import numpy as np

        return np.asarray(self.open(raw))


class AudioEvent(MediaEvent):
    """``sample_rate``, ``num_channels``, ``length_frames``, ``path``."""

    def read(self):
        """(sample rate, samples as a (frames, channels) integer array) of a WAV asset."""
        import wave

        import numpy as np

        with wave.open(str(self.path), "rb") as handle:
            width = handle.getsampwidth()
            frames = handle.readframes(handle.getnframes())
            dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
            samples = np.frombuffer(frames, dtype=dtype).reshape(-1, handle.getnchannels())
            return handle.getframerate(), samples


class VideoEvent(MediaEvent):
    """``path``, ``content_type``; encoded arrays add ``height``, ``width``, ``frames``, ``fps``."""

    def read(self):
        """The frames as a (T, H, W, 3) uint8 array (imageio)."""
        import numpy as np

        imageio = need("imageio.v3", "Reading a logged video")
        return np.asarray(imageio.imread(self.path, index=None))


class HistogramEvent(MediaEvent):
    @property
    def edges(self):
        return _floats(self.value["edges"])

    @property
    def counts(self):
        return _floats(self.value["counts"])


class CurveEvent(MediaEvent):
    """``kind`` (roc, pr, custom), ``annotation``, ``auc`` / ``average_precision``."""

    @property
    def x(self):
        return _floats(self.value["x"])

    @property
    def y(self):
        return _floats(self.value["y"])

    @property
    def auc(self) -> float | None:
        return _score(self.value.get("auc"))

    @property
    def average_precision(self) -> float | None:
        return _score(self.value.get("average_precision"))


def _score(value: Any) -> float | None:
    return None if value is None else float(value)  # "nan", "inf", "-inf" parse back


class ConfusionEvent(MediaEvent):
    """``x`` (column labels), ``y`` (row labels), ``z`` (values, row by row)."""

    @property
    def matrix(self):
        import numpy as np

        return np.asarray(self.value["z"])


class ChartEvent(MediaEvent):
    """``kind`` (plotly, bokeh, vega, or image when a matplotlib conversion fell back), ``figure``."""

    @property
    def is_fallback(self) -> bool:
        return self.value.get("fallback") is not None

    def to_figure(self):
        """The chart as its library's object: plotly Figure, bokeh model, altair chart, PIL image."""
        kind = self.value["kind"]
        if kind == "plotly":
            return need("plotly.graph_objects", "Opening a logged plotly chart").Figure(self.value["figure"])
        if kind == "vega":
            return need("altair", "Opening a logged altair chart").Chart.from_dict(self.value["figure"])
        if kind == "bokeh":
            return _bokeh_model(self.value["figure"])
        return ImageEvent(self.step, self.timestamp, self.value, self.run_path).open()


def _bokeh_model(item: dict[str, Any]):
    """The root model of a bokeh ``json_item``."""
    document = need("bokeh.document", "Opening a logged bokeh chart")
    doc = document.Document.from_json(item["doc"])
    return doc.get_model_by_id(item["root_id"]) if item.get("root_id") else doc.roots[0]


class DataframeEvent(MediaEvent):
    """``path``, ``content_type`` (csv, parquet, html), ``rows``, ``columns``."""

    def load(self):
        pd = need("pandas", "Loading a logged data frame")
        kind = self.value["content_type"]
        if kind == "parquet":
            return pd.read_parquet(self.path)
        if kind == "html":  # pandas needs lxml (not a labbook dependency) to read HTML tables
            return pd.read_html(self.path, index_col=0)[0]
        return pd.read_csv(self.path, index_col=0)


class SpanEvent(MediaEvent):
    """The span tree: ``name``, ``kind``, ``inputs``, ``outputs``, ``children`` (dicts)."""

    def walk(self):
        """Every span of the tree, depth first, as (depth, span dict)."""
        stack = [(0, self.value)]
        while stack:
            depth, span = stack.pop()
            yield depth, span
            stack.extend((depth + 1, child) for child in reversed(span.get("children") or []))


TYPES: dict[str, type[MediaEvent]] = {
    "image": ImageEvent, "audio": AudioEvent, "video": VideoEvent, "histogram": HistogramEvent,
    "curve": CurveEvent, "confusion": ConfusionEvent, "chart": ChartEvent, "dataframe": DataframeEvent,
    "span": SpanEvent,
}


def typed_event(kind: str, event: Any, run_path: str | Path) -> MediaEvent:
    """Wrap one ``labbook.runs.Event`` of ``kind`` in its typed class."""
    cls = TYPES.get(kind, MediaEvent)
    return cls(event.step, event.timestamp, event.value, Path(run_path), getattr(event, "writer", ""))


def read_typed(run: Any, kind: str, name: str) -> list[MediaEvent]:
    """Every event of ``kind`` named ``name`` of ``run`` (a ``RunRecord`` or a ``Run``), typed."""
    if hasattr(run, "events"):
        events = run.events(kind, name)
    else:
        from labbook.store.events import read_events
        from labbook.store.layout import RunFolder

        events = read_events(RunFolder(Path(run.path)), kind, name)
    return [typed_event(kind, event, run.path) for event in events]
