"""Curves (custom, ROC, PR, scikit-learn one-vs-rest) and confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

import labbook
from labbook.errors import InvalidValueError
from labbook.media.typed import read_typed


def events_of(run, kind, name):
    run.flush()
    return read_typed(labbook.get_run(run.uuid), kind, name)


def test_curves_keep_their_points_and_scores(run_factory):
    run = run_factory()
    run.log_roc_auc_curve("roc", fpr=[0, 0.5, 1], tpr=[0, 0.8, 1], auc=0.8, step=1)
    run.log_pr_curve("pr", precision=[1, 0.5], recall=[0.5, 1], average_precision=np.float32(0.75), step=1)
    run.log_curve("custom", x=np.arange(3), y=[1.0, np.nan, np.inf], annotation="lr", step=2)
    (roc,) = events_of(run, "curve", "roc")
    assert (roc.kind, roc.x.tolist(), roc.y.tolist(), roc.auc, roc.annotation) == \
        ("roc", [0, 0.5, 1], [0, 0.8, 1], 0.8, "0.8")
    (pr,) = events_of(run, "curve", "pr")
    assert (pr.kind, pr.average_precision) == ("pr", 0.75)
    (custom,) = events_of(run, "curve", "custom")
    assert custom.kind == "custom" and custom.annotation == "lr"
    assert custom.y[0] == 1.0 and np.isnan(custom.y[1]) and custom.y[2] == np.inf


def test_sklearn_binary_and_multi_class(run_factory):
    from sklearn import metrics

    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 200)
    preds = rng.random((200, 3))
    preds[np.arange(200), targets] += 0.5
    run = run_factory()
    run.log_sklearn_roc_auc_curve("roc", preds, targets, step=1, is_multi_class=True)
    run.log_sklearn_pr_curve("pr", preds[:, :2], targets.clip(0, 1), step=1)
    for index in range(3):
        (event,) = events_of(run, "curve", f"roc_{index}")
        fpr, tpr, _ = metrics.roc_curve(targets == index, preds[:, index])
        assert event.value["class"] == index
        assert np.allclose(event.x, fpr) and np.allclose(event.y, tpr)
        assert event.auc == pytest.approx(metrics.auc(fpr, tpr))
    (pr,) = events_of(run, "curve", "pr")
    assert pr.average_precision == pytest.approx(
        metrics.average_precision_score(targets.clip(0, 1), preds[:, 1]))


def test_sklearn_multi_class_with_string_labels(run_factory):
    run = run_factory()
    targets = np.array(["cat", "dog", "eel", "dog"])
    preds = np.eye(3)[[0, 1, 2, 1]]
    run.log_sklearn_roc_auc_curve("roc", preds, targets, is_multi_class=True, step=0)
    assert [events_of(run, "curve", f"roc_{i}")[0].value["class"] for i in range(3)] == ["cat", "dog", "eel"]


@pytest.mark.parametrize(
    "x, y, z",
    [
        pytest.param(["a", "b"], ["a", "b"], [[1, 2], [3, 4]], id="square-ints"),
        pytest.param([1, 2, 3], ["p", "q"], [[0.5, 0.1, 0.0], [1.0, 2.0, 3.5]], id="rectangular-floats"),
        pytest.param([True, False], [0.5], np.array([[7, 8]]), id="numpy-and-odd-labels"),
        pytest.param(["a|b", "c"], ["x", "y"], [[1, 2], [3, 4]], id="pipe-in-label"),
    ],
)
def test_confusion_matrix_keeps_labels_and_values(run_factory, x, y, z):
    run = run_factory()
    run.log_confusion_matrix("confusion", x, y, z, step=1)
    (event,) = events_of(run, "confusion", "confusion")
    assert event.x == list(x) and event.y == list(y)
    assert event.z == np.asarray(z).tolist()
    assert type(event.z[0][0]) is type(np.asarray(z).tolist()[0][0])


@pytest.mark.parametrize(
    "call, message",
    [
        pytest.param(lambda r: r.log_curve("c", [1, 2, 3], [1, 2]), "x has 3, y has 2", id="lengths"),
        pytest.param(lambda r: r.log_curve("c", [], []), "x is empty", id="empty"),
        pytest.param(lambda r: r.log_curve("c", [[1]], [1]), "x has shape", id="2-d"),
        pytest.param(lambda r: r.log_roc_auc_curve("c", [0, 1], [0, 1], auc="high"), "auc", id="auc"),
        pytest.param(lambda r: r.log_pr_curve("c", ["a"], [1]), "precision has dtype", id="strings"),
        pytest.param(lambda r: r.log_confusion_matrix("m", ["a"], ["b"]), "z is required", id="no-z"),
        pytest.param(lambda r: r.log_confusion_matrix("m", ["a", "b"], ["c"], [[1, 2], [3, 4]]),
                     r"z has shape \(2, 2\)", id="shape"),
        pytest.param(lambda r: r.log_confusion_matrix("m", ["a", "b"], ["c", "d"], [[1, 2], [3]]),
                     "z", id="ragged"),
        pytest.param(lambda r: r.log_confusion_matrix("m", "ab", ["c"], [[1, 2]]), "x must be a sequence",
                     id="labels-str"),
        pytest.param(lambda r: r.log_sklearn_roc_auc_curve("s", np.random.rand(5, 3), [0, 1, 2, 0, 1]),
                     "is_multi_class=True", id="multi-without-flag"),
        pytest.param(lambda r: r.log_sklearn_pr_curve("s", np.random.rand(4), [0, 1, 0]),
                     "y_preds has 4, y_targets has 3", id="sklearn-lengths"),
        pytest.param(lambda r: r.log_sklearn_roc_auc_curve("s", np.random.rand(4, 3), [0, 1, 2, 3],
                                                           is_multi_class=True), "3 columns", id="classes"),
    ],
)
def test_bad_curves_are_refused(run_factory, call, message):
    run = run_factory()
    with pytest.raises(InvalidValueError, match=message):
        call(run)
