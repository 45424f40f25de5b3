"""Rich step-wise events, as methods bound onto ``Run`` (see ``labbook.tracking.run``).

Placeholders until the rich-events work lands: each raises ``NotImplementedError``.
"""

from __future__ import annotations

from typing import Any

_PENDING = "is not implemented yet in this labbook version (rich events are being built)."


def _pending(name: str) -> NotImplementedError:
    return NotImplementedError(f"{name}() {_PENDING}")


def log_image(self, data: Any, name: str | None = None, step: int | None = None, timestamp: Any = None,
              rescale: float = 1, dataformats: str = "CHW", ext: str | None = None) -> None:
    raise _pending("log_image")


def log_image_with_boxes(self, tensor_image: Any, tensor_boxes: Any, name: str | None = None,
                         step: int | None = None, timestamp: Any = None, rescale: float = 1,
                         dataformats: str = "CHW") -> None:
    raise _pending("log_image_with_boxes")


def log_mpl_image(self, data: Any, name: str | None = None, close: bool = True, step: int | None = None,
                  timestamp: Any = None) -> None:
    raise _pending("log_mpl_image")


def log_video(self, data: Any, name: str | None = None, fps: int = 4, step: int | None = None,
              timestamp: Any = None, content_type: str | None = None) -> None:
    raise _pending("log_video")


def log_audio(self, data: Any, name: str | None = None, sample_rate: int = 44100, step: int | None = None,
              timestamp: Any = None, content_type: str | None = None) -> None:
    raise _pending("log_audio")


def log_histogram(self, name: str, values: Any, bins: Any, max_bins: int | None = None,
                  step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_histogram")


def log_np_histogram(self, name: str, values: Any, counts: Any, step: int | None = None,
                     timestamp: Any = None) -> None:
    raise _pending("log_np_histogram")


def log_curve(self, name: str, x: Any, y: Any, annotation: Any = None, step: int | None = None,
              timestamp: Any = None) -> None:
    raise _pending("log_curve")


def log_roc_auc_curve(self, name: str, fpr: Any, tpr: Any, auc: float | None = None,
                      step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_roc_auc_curve")


def log_pr_curve(self, name: str, precision: Any, recall: Any, average_precision: float | None = None,
                 step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_pr_curve")


def log_sklearn_roc_auc_curve(self, name: str, y_preds: Any, y_targets: Any, step: int | None = None,
                              timestamp: Any = None, is_multi_class: bool = False) -> None:
    raise _pending("log_sklearn_roc_auc_curve")


def log_sklearn_pr_curve(self, name: str, y_preds: Any, y_targets: Any, step: int | None = None,
                         timestamp: Any = None, is_multi_class: bool = False) -> None:
    raise _pending("log_sklearn_pr_curve")


def log_confusion_matrix(self, name: str, x: Any, y: Any, z: Any = None, step: int | None = None,
                         timestamp: Any = None) -> None:
    raise _pending("log_confusion_matrix")


def log_dataframe(self, df: Any, name: str, content_type: str = "csv", step: int | None = None,
                  timestamp: Any = None) -> None:
    raise _pending("log_dataframe")


def log_plotly_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_plotly_chart")


def log_bokeh_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_bokeh_chart")


def log_altair_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_altair_chart")


def log_mpl_plotly_chart(self, name: str, figure: Any, step: int | None = None, timestamp: Any = None,
                         close: bool = True, fallback_to_image: bool = True) -> None:
    raise _pending("log_mpl_plotly_chart")


def log_trace(self, span: Any, step: int | None = None, timestamp: Any = None) -> None:
    raise _pending("log_trace")


RUN_METHODS = (
    "log_altair_chart", "log_audio", "log_bokeh_chart", "log_confusion_matrix", "log_curve",
    "log_dataframe", "log_histogram", "log_image", "log_image_with_boxes", "log_mpl_image",
    "log_mpl_plotly_chart", "log_np_histogram", "log_plotly_chart", "log_pr_curve",
    "log_roc_auc_curve", "log_sklearn_pr_curve", "log_sklearn_roc_auc_curve", "log_trace", "log_video",
)
