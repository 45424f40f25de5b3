"""Rich step-wise events: ``MediaMethods``, which ``Run`` (``labbook.tracking.run``) inherits.

Each method checks its input on the caller's thread (errors name the argument), keeps a private
copy, and leaves encoding and file writing to the run's writer thread. Assets land in
``assets/<kind>/<name>_<step>.<ext>``; event values are JSON and hold asset paths relative to
the run folder. The value of each kind is documented in docs/events.md and read back typed by
``labbook.media.typed``. Signatures are Polyaxon's (``labbook.tracking`` forwards them)::

    run.log_image(np.random.rand(3, 64, 64), "sample", step=1)
    run.log_audio(np.sin(np.arange(16000) / 10), "tone", sample_rate=16000, step=1)
    run.log_histogram("weights", np.random.randn(1000), "auto", step=1)
"""

from __future__ import annotations

from typing import Any

from labbook.errors import InvalidValueError, MissingDependencyError
from labbook.media.assets import existing_file, file_ext, is_path, log_asset_event, log_background_event, no_fields
from labbook.media.optional import need
from labbook.store.names import check_extension
from labbook.writer.surface import RunSurface


def _bytes_writer(data: bytes, then):
    def write(path):
        path.write_bytes(data)
        return then(path)

    return write


def _log_sklearn_curves(run: RunSurface, what: str, kind: str, name: str, y_preds: Any, y_targets: Any,
                        step: Any, timestamp: Any, is_multi_class: bool) -> None:
    from labbook.media.curves import sklearn_curves

    run._check_open(what)
    for index, value in sklearn_curves(what, kind, y_preds, y_targets, is_multi_class):
        run._emit("curve", name if index is None else f"{name}_{index}", value, step, timestamp)


def _log_chart(run: RunSurface, name: str, kind: str, spec: Any, step: Any, timestamp: Any, **extra: Any) -> None:
    run._emit("chart", name, {"kind": kind, **extra, "figure": spec}, step, timestamp)


class MediaMethods(RunSurface):
    """Run's rich-event methods (see the module docstring): ``Run`` inherits them."""

    def log_image(self, data: Any, name: str | None = None, step: int | None = None, timestamp: Any = None,
                  rescale: float = 1, dataformats: str = "CHW", ext: str | None = None) -> None:
        """Log an image: a file path, a numpy array or torch tensor (``HW``, ``HWC``, ``CHW``, ``NCHW``
        tiled into a grid; floats in [0, 1] or uint8), or a PIL image. PNG unless ``ext`` says otherwise.

        ``run.log_image(np.random.rand(3, 64, 64), "sample", step=1)``
        """
        from labbook.media import images

        what = "log_image"
        self._check_open(what)
        if is_path(data):
            source = existing_file(what, "data", data)
            kind = check_extension(ext or file_ext(source, "png"), f"{what} ext").lower()
            log_asset_event(self, "image", name or source.stem, step, timestamp, kind,
                            images.file_image_fields(kind), source=source)
            return
        if hasattr(data, "encoded_image_string"):  # a TensorFlow summary image
            encoded = bytes(data.encoded_image_string)
            kind = check_extension(ext or "png", f"{what} ext").lower()
            log_asset_event(self, "image", name or "image", step, timestamp, kind,
                            _bytes_writer(encoded, images.file_image_fields(kind)))
            return
        kind = images.check_ext(what, ext)
        scale = images.check_rescale(what, rescale)
        need("PIL.Image", "Logging images")
        prepared = images.prepare_image(what, "data", data, dataformats, scale)
        log_asset_event(self, "image", name or "image", step, timestamp, kind, images.image_writer(prepared, kind),
                        nbytes=prepared.nbytes, raw=prepared.data)

    def log_image_with_boxes(self, tensor_image: Any, tensor_boxes: Any, name: str | None = None,
                             step: int | None = None, timestamp: Any = None, rescale: float = 1,
                             dataformats: str = "CHW", *, labels: Any = None, scores: Any = None) -> None:
        """Log an image with boxes ``(x1, y1, x2, y2)`` in pixels, with optional ``labels`` and ``scores``.

        The boxes are drawn on the stored PNG and kept as data in the event (with the clean image
        at ``raw_path``), so a viewer can toggle them::

            run.log_image_with_boxes(img, [[10, 10, 40, 60]], "detections", labels=["cat"], scores=[0.9])
        """
        from labbook.media import images

        what = "log_image_with_boxes"
        self._check_open(what)
        scale = images.check_rescale(what, rescale)
        need("PIL.Image", "Logging images")
        if images.is_pil(tensor_image):
            prepared = images.prepare_pil(tensor_image, scale)
        else:
            prepared = images.prepare_array(what, "tensor_image", tensor_image, dataformats, scale)
            if prepared.array.ndim == 4:
                raise InvalidValueError(
                    f"{what}: tensor_image has a batch axis (shape {prepared.array.shape}); pass one image."
                )
        boxes = images.prepare_boxes(what, tensor_boxes, labels, scores, scale)
        log_asset_event(self, "image", name or "image", step, timestamp, "png",
                        images.boxes_writer(prepared, boxes, self._folder.path), raw=prepared.data)

    def log_mpl_image(self, data: Any, name: str | None = None, close: bool = True, step: int | None = None,
                      timestamp: Any = None) -> None:
        """Log a matplotlib figure (or a list of them, tiled) as a PNG; closes them unless ``close=False``.

        ``fig, ax = plt.subplots(); ax.plot(x, y); run.log_mpl_image(fig, "curve", step=3)``
        """
        from labbook.media import images

        what = "log_mpl_image"
        self._check_open(what)
        need("PIL.Image", "Logging matplotlib figures as images")
        try:
            pixels = images.render_figures(what, "data", data)
        finally:
            if close:
                images.close_figures(data)
        prepared = images.prepare_array(what, "data", pixels, "NHWC" if pixels.ndim == 4 else "HWC", 1.0, copy=False)
        log_asset_event(self, "image", name or "figure", step, timestamp, "png", images.image_writer(prepared, "png"),
                        nbytes=prepared.nbytes, raw=prepared.data)

    def log_video(self, data: Any, name: str | None = None, fps: int = 4, step: int | None = None,
                  timestamp: Any = None, content_type: str | None = None) -> None:
        """Log a video: a file (copied) or a ``[B, T, C, H, W]`` / ``[T, H, W, C]`` array encoded as GIF
        (default) or MP4 (``content_type="mp4"``) at ``fps`` frames per second.

        ``run.log_video(np.random.rand(16, 32, 32, 3), "rollout", fps=8, step=1, content_type="mp4")``
        """
        from labbook.media import video

        what = "log_video"
        self._check_open(what)
        if is_path(data):
            source = existing_file(what, "data", data)
            kind = check_extension(content_type or file_ext(source, "mp4"), f"{what} content_type").lower()
            log_asset_event(self, "video", name or source.stem, step, timestamp, kind, no_fields,
                            source=source, extra={"content_type": kind})
            return
        kind = video.check_content_type(what, content_type)
        video.require_encoder(what, kind)
        prepared = video.prepare_video(what, "data", data, fps)
        log_asset_event(self, "video", name or "video", step, timestamp, kind, video.video_writer(prepared, kind),
                        nbytes=prepared.frames.nbytes, raw=prepared.frames)

    def log_audio(self, data: Any, name: str | None = None, sample_rate: int = 44100, step: int | None = None,
                  timestamp: Any = None, content_type: str | None = None) -> None:
        """Log audio: a file (copied) or samples, mono (1-D) or multi-channel (2-D), float in [-1, 1] or
        int, written as WAV.

        ``run.log_audio(np.sin(np.arange(16000) / 10), "tone", sample_rate=16000, step=1)``
        """
        from labbook.media import audio

        what = "log_audio"
        self._check_open(what)
        if is_path(data):
            source = existing_file(what, "data", data)
            kind = check_extension(content_type or file_ext(source, "wav"), f"{what} content_type").lower()
            rate = audio.check_sample_rate(what, sample_rate)
            log_asset_event(self, "audio", name or source.stem, step, timestamp, kind,
                            audio.file_audio_fields(kind, rate), source=source)
            return
        if content_type not in (None, "wav") and getattr(content_type, "value", None) != "wav":
            raise InvalidValueError(
                f"{what}: content_type={content_type!r}: samples are written as WAV; pass content_type='wav' "
                "or None (or pass an audio file, which is copied as is)."
            )
        prepared = audio.prepare_audio(what, "data", data, sample_rate)
        log_asset_event(self, "audio", name or "audio", step, timestamp, "wav", audio.audio_writer(prepared),
                        nbytes=prepared.samples.nbytes, raw=prepared.samples)

    def log_histogram(self, name: str, values: Any, bins: Any, max_bins: int | None = None,
                      step: int | None = None, timestamp: Any = None) -> None:
        """Log the distribution of ``values`` binned with ``numpy.histogram`` (``bins``: a count, edges or
        a rule such as ``"auto"``; at most ``max_bins``, 512 by default).

        ``run.log_histogram("weights", layer.weight, "auto", step=epoch)``
        """
        from labbook.media.histograms import prepare_histogram

        self._check_open("log_histogram")
        compute, nbytes = prepare_histogram("log_histogram", values, bins, max_bins)
        log_background_event(self, "histogram", name, step, timestamp, compute, nbytes=nbytes)

    def log_np_histogram(self, name: str, values: Any, counts: Any, step: int | None = None,
                         timestamp: Any = None) -> None:
        """Log a histogram already computed: bin edges and counts per bin, in either order.

        ``run.log_np_histogram("latency", *np.histogram(samples), step=1)``
        """
        from labbook.media.histograms import np_histogram_value

        self._check_open("log_np_histogram")
        self._emit("histogram", name, np_histogram_value("log_np_histogram", values, counts), step, timestamp)

    def log_curve(self, name: str, x: Any, y: Any, annotation: Any = None, step: int | None = None,
                  timestamp: Any = None) -> None:
        """Log a custom curve: ``run.log_curve("lr-schedule", steps, lrs, step=0)``."""
        from labbook.media.curves import curve_value

        self._check_open("log_curve")
        self._emit("curve", name, curve_value("log_curve", "custom", x, y, annotation=annotation), step, timestamp)

    def log_roc_auc_curve(self, name: str, fpr: Any, tpr: Any, auc: float | None = None,
                          step: int | None = None, timestamp: Any = None) -> None:
        """Log a ROC curve: ``run.log_roc_auc_curve("roc", fpr, tpr, auc=0.91, step=5)``."""
        from labbook.media.curves import roc_value

        self._check_open("log_roc_auc_curve")
        self._emit("curve", name, roc_value("log_roc_auc_curve", fpr, tpr, auc), step, timestamp)

    def log_pr_curve(self, name: str, precision: Any, recall: Any, average_precision: float | None = None,
                     step: int | None = None, timestamp: Any = None) -> None:
        """Log a precision-recall curve: ``run.log_pr_curve("pr", p, r, average_precision=0.8)``."""
        from labbook.media.curves import pr_value

        self._check_open("log_pr_curve")
        self._emit("curve", name, pr_value("log_pr_curve", precision, recall, average_precision), step, timestamp)

    def log_sklearn_roc_auc_curve(self, name: str, y_preds: Any, y_targets: Any, step: int | None = None,
                                  timestamp: Any = None, is_multi_class: bool = False) -> None:
        """Compute and log a ROC curve with scikit-learn; with ``is_multi_class``, one curve per class
        (one-vs-rest, column ``i`` of ``y_preds``) named ``<name>_<i>``.

        ``run.log_sklearn_roc_auc_curve("roc", model.predict_proba(X), y, is_multi_class=True)``
        """
        _log_sklearn_curves(self, "log_sklearn_roc_auc_curve", "roc", name, y_preds, y_targets, step, timestamp,
                            is_multi_class)

    def log_sklearn_pr_curve(self, name: str, y_preds: Any, y_targets: Any, step: int | None = None,
                             timestamp: Any = None, is_multi_class: bool = False) -> None:
        """Compute and log a precision-recall curve with scikit-learn (see ``log_sklearn_roc_auc_curve``)."""
        _log_sklearn_curves(self, "log_sklearn_pr_curve", "pr", name, y_preds, y_targets, step, timestamp,
                            is_multi_class)

    def log_confusion_matrix(self, name: str, x: Any, y: Any, z: Any = None, step: int | None = None,
                             timestamp: Any = None) -> None:
        """Log a confusion matrix: column labels ``x``, row labels ``y``, values ``z[row][column]``.

        ``run.log_confusion_matrix("confusion", ["cat", "dog"], ["cat", "dog"], [[5, 1], [2, 7]], step=1)``
        """
        from labbook.media.curves import confusion_value

        self._check_open("log_confusion_matrix")
        self._emit("confusion", name, confusion_value("log_confusion_matrix", x, y, z), step, timestamp)

    def log_dataframe(self, df: Any, name: str, content_type: str = "csv", step: int | None = None,
                      timestamp: Any = None) -> None:
        """Log a pandas DataFrame as CSV, Parquet or HTML: ``run.log_dataframe(df, "preds", "parquet")``."""
        from labbook.media.frames import check_content_type, frame_writer

        what = "log_dataframe"
        self._check_open(what)
        kind = check_content_type(what, content_type)
        log_asset_event(self, "dataframe", name, step, timestamp, kind, frame_writer(what, df, kind))

    def log_plotly_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """Log a plotly figure as its JSON spec: ``run.log_plotly_chart("hist", px.histogram(df, x="tip"))``."""
        from labbook.media.charts import plotly_spec

        self._check_open("log_plotly_chart")
        _log_chart(self, name, "plotly", plotly_spec("log_plotly_chart", figure), step, timestamp)

    def log_bokeh_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """Log a bokeh figure as its ``json_item``: ``run.log_bokeh_chart("heatmap", p, step=1)``."""
        from labbook.media.charts import bokeh_spec

        self._check_open("log_bokeh_chart")
        _log_chart(self, name, "bokeh", bokeh_spec("log_bokeh_chart", figure), step, timestamp)

    def log_altair_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
        """Log an altair chart as its Vega-Lite spec: ``run.log_altair_chart("cars", chart, step=1)``."""
        from labbook.media.charts import altair_spec

        self._check_open("log_altair_chart")
        _log_chart(self, name, "vega", altair_spec("log_altair_chart", figure), step, timestamp)

    def log_mpl_plotly_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None,
                             close: bool = True, fallback_to_image: bool = True) -> None:
        """Log a matplotlib figure converted to plotly (interactive). When conversion fails, a PNG is
        stored instead (``fallback_to_image``) and the event says so: ``{"fallback": "image", "reason": ...}``.

        ``fig, ax = plt.subplots(); ax.plot(x, y); run.log_mpl_plotly_chart("sin", fig, step=1)``
        """
        from labbook.media import charts, images

        what = "log_mpl_plotly_chart"
        self._check_open(what)
        if not images.is_figure(figure):
            raise InvalidValueError(
                f"{what}: figure must be a matplotlib Figure, got {type(figure).__name__}. "
                "Use log_plotly_chart for plotly figures."
            )
        try:
            try:
                spec = charts.plotly_json(what, charts.mpl_to_plotly(what, figure))
            except Exception as error:  # noqa: BLE001 - any conversion failure: recorded, or raised
                if not fallback_to_image:
                    if isinstance(error, MissingDependencyError):
                        raise
                    raise InvalidValueError(
                        f"{what}: matplotlib → plotly conversion failed ({type(error).__name__}: {error}). "
                        "Pass fallback_to_image=True to store a PNG instead, or use log_mpl_image."
                    ) from error
                reason = f"{type(error).__name__}: {error}"[:500]
                need("PIL.Image", "Storing a matplotlib figure as an image")
                pixels = images.render_figure(what, "figure", figure)
                prepared = images.prepare_array(what, "figure", pixels, "HWC", 1.0, copy=False)
                log_asset_event(self, "chart", name, step, timestamp, "png", images.image_writer(prepared, "png"),
                                extra={"kind": "image", "fallback": "image", "reason": reason}, raw=prepared.data)
                return
        finally:
            if close:
                images.close_figures(figure)
        _log_chart(self, name, "plotly", spec, step, timestamp, source="matplotlib")

    def log_trace(self, span: Any, step: int | None = None, timestamp: Any = None) -> None:
        """Log a trace: a tree of spans (``labbook.media.traces.Span`` or dicts with ``children``).

        The event is named after the root span. As in Polyaxon, the root span's ``inputs`` and
        ``outputs`` are also merged into the run's inputs and outputs.
        ``run.log_trace(Span("qa", kind="chain", children=[Span("llm", kind="llm")]))``
        """
        from labbook.media.traces import span_value

        self._check_open("log_trace")
        value = span_value(span)
        self._emit("span", value["name"] or "trace", value, step, timestamp)
        if isinstance(value.get("inputs"), dict) and value["inputs"]:
            self.log_inputs(**value["inputs"])
        if isinstance(value.get("outputs"), dict) and value["outputs"]:
            self.log_outputs(**value["outputs"])
