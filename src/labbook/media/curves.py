"""Curves (ROC, precision-recall, custom) and confusion matrices as event values.

Curve value: ``{"kind": "roc" | "pr" | "custom", "x": [...], "y": [...], "annotation": str | None}``
plus ``"auc"`` (ROC) or ``"average_precision"`` (PR) as numbers (NaN and infinities as
``"nan"``, ``"inf"``, ``"-inf"``, as everywhere), and ``"class"`` for the
one-vs-rest curves of a multi-class model. Confusion value: ``{"x": [...], "y": [...], "z": [[...]]}``
with ``z[i][j]`` the value at row label ``y[i]`` and column label ``x[j]``; the matrix may be
rectangular, labels keep their types and values are stored as given.
"""

from __future__ import annotations

import numbers
from typing import Any

from labbook._values import json_float
from labbook.errors import InvalidValueError
from labbook.media.arrays import float_list, numeric, plain_list, same_length
from labbook.media.optional import need


def _number(what: str, argument: str, value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "item") and getattr(value, "shape", None) in ((), (1,)):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(f"{what}: {argument}={value!r:.60} must be a number.")
    return float(value)


def curve_value(what: str, kind: str, x: Any, y: Any, x_name: str = "x", y_name: str = "y",
                annotation: Any = None) -> dict[str, Any]:
    xs = numeric(what, x_name, x, ndim=1, copy=False)
    ys = numeric(what, y_name, y, ndim=1, copy=False)
    same_length(what, **{x_name: xs, y_name: ys})
    return {"kind": kind, "x": float_list(xs), "y": float_list(ys),
            "annotation": None if annotation is None else str(annotation)}


def roc_value(what: str, fpr: Any, tpr: Any, auc: Any) -> dict[str, Any]:
    number = _number(what, "auc", auc)
    value = curve_value(what, "roc", fpr, tpr, "fpr", "tpr", None if number is None else number)
    return {**value, "auc": None if number is None else json_float(number)}


def pr_value(what: str, precision: Any, recall: Any, average_precision: Any) -> dict[str, Any]:
    number = _number(what, "average_precision", average_precision)
    value = curve_value(what, "pr", precision, recall, "precision", "recall", number)
    return {**value, "average_precision": None if number is None else json_float(number)}


def _classes(what: str, y_preds: Any, y_targets: Any, is_multi_class: bool):
    """(scores per curve, binary targets per curve, class label per curve or None)."""
    import numpy as np

    preds = numeric(what, "y_preds", y_preds, ndim=(1, 2), copy=False)
    targets = np.asarray(y_targets.detach().cpu().numpy() if hasattr(y_targets, "detach") else y_targets)
    if targets.ndim != 1:
        raise InvalidValueError(f"{what}: y_targets has shape {targets.shape}; pass one label per sample (1-D).")
    same_length(what, y_preds=preds, y_targets=targets)
    if not is_multi_class:
        if preds.ndim == 2:
            if preds.shape[1] != 2:
                raise InvalidValueError(
                    f"{what}: y_preds has {preds.shape[1]} columns; for more than two classes pass "
                    "is_multi_class=True (one curve per class)."
                )
            preds = preds[:, 1]
        return [(preds, targets, None)]
    if preds.ndim != 2:
        raise InvalidValueError(
            f"{what}: is_multi_class=True needs y_preds of shape (samples, classes), got {preds.shape}."
        )
    labels = np.unique(targets)
    if len(labels) != preds.shape[1]:
        if targets.dtype.kind not in "iu" or targets.min() < 0 or targets.max() >= preds.shape[1]:
            raise InvalidValueError(
                f"{what}: y_targets has {len(labels)} classes but y_preds has {preds.shape[1]} columns; "
                "pass class indexes 0..n-1 or one column per class present."
            )
        labels = np.arange(preds.shape[1])
    return [(preds[:, i], targets == label, label.item() if hasattr(label, "item") else label)
            for i, label in enumerate(labels)]


def sklearn_curves(what: str, kind: str, y_preds: Any, y_targets: Any, is_multi_class: bool):
    """[(suffix index or None, value)] for ROC (``kind="roc"``) or PR curves, one-vs-rest."""
    metrics = need("sklearn.metrics", what)
    out = []
    for index, (scores, targets, label) in enumerate(_classes(what, y_preds, y_targets, is_multi_class)):
        if kind == "roc":
            fpr, tpr, _ = metrics.roc_curve(targets, scores)
            value = roc_value(what, fpr, tpr, metrics.auc(fpr, tpr))
        else:
            precision, recall, _ = metrics.precision_recall_curve(targets, scores)
            value = pr_value(what, precision, recall, metrics.average_precision_score(targets, scores))
        if label is not None:
            value["class"] = label
        out.append((None if label is None else index, value))
    return out


def confusion_value(what: str, x: Any, y: Any, z: Any) -> dict[str, Any]:
    if z is None:
        raise InvalidValueError(f"{what}: z is required: the matrix, one row per label of y.")
    columns = plain_list(what, "x", x)
    rows = plain_list(what, "y", y)
    matrix = numeric(what, "z", z, ndim=2, copy=False)
    if matrix.shape != (len(rows), len(columns)):
        raise InvalidValueError(
            f"{what}: z has shape {matrix.shape}, but y has {len(rows)} labels (rows) and x has "
            f"{len(columns)} (columns); z must be ({len(rows)}, {len(columns)})."
        )
    if matrix.dtype.kind == "f":
        cells = [float_list(row) for row in matrix]
    else:
        cells = matrix.tolist()
    return {"x": columns, "y": rows, "z": cells}
