"""scikit-learn: log a fitted classifier or regressor, evaluated on a test set
(``pip install 'labbook[sklearn]'``).

::

    from labbook import tracking
    from labbook.integrations.sklearn import log_classifier

    tracking.init(project="iris")
    model = RandomForestClassifier(n_estimators=50).fit(X_train, y_train)
    log_classifier(model, X_test, y_test)
    tracking.end()

Both functions log the estimator's ``get_params()`` as inputs (values JSON cannot hold, such as
the steps of a pipeline, as their ``repr``), the test predictions (first ``nrows``) as the
dataframe ``test_predictions``, and the fitted estimator as model ``model``
(``outputs/model/model.joblib``, loadable with ``joblib.load``).

``log_classifier`` logs the metrics ``accuracy``, ``precision``, ``recall``, ``f1`` (binary for
two classes, weighted over classes otherwise; ``f1`` is ``f1_score(y_test, y_pred)``),
``roc_auc`` (from ``predict_proba`` or ``decision_function``; one-vs-rest weighted for more
than two classes; skipped when the test set has a single class), Polyaxon's per-class
``precision_class_<i>_test``, ``recall_class_<i>_test``, ``fbeta_score_class_<i>_test`` and
``support_class_<i>_test`` (``i`` indexes ``estimator.classes_``); the curves ``roc_curve`` and
``pr_curve`` (one per class, ``roc_curve_<i>``, with more than two classes); the confusion matrix
``confusion_matrix`` (rows: true class, columns: predicted); and ``test_proba_predictions``.

``log_regressor`` logs ``mse``, ``mae``, ``r2``, ``evs`` (explained variance) and, for one
output, ``me`` (max error).
"""

from __future__ import annotations

from typing import Any

from labbook.errors import InvalidValueError
from labbook.integrations._common import jsonable_params, log_saved_file, resolve_run
from labbook.media.optional import need

WHAT = "labbook.integrations.sklearn"


def _check(estimator: Any, kind: str, function: str) -> None:
    base = need("sklearn.base", WHAT)
    is_kind = base.is_classifier if kind == "classifier" else base.is_regressor
    if not is_kind(estimator):
        other = "log_regressor" if kind == "classifier" else "log_classifier"
        raise InvalidValueError(
            f"{function}(): {type(estimator).__name__} is not a scikit-learn {kind}. Pass a fitted "
            f"{kind}, or use {other} for a {'regressor' if kind == 'classifier' else 'classifier'}."
        )


def _scores(estimator: Any, X_test: Any) -> Any:
    """Class probabilities, else decision scores, else None."""
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            try:
                return getattr(estimator, method)(X_test)
            except (AttributeError, NotImplementedError):  # e.g. SVC(probability=False)
                continue
    return None


def _log_predictions(run: Any, y_test: Any, y_pred: Any, nrows: int, step: int | None) -> None:
    pd = need("pandas", "logging test predictions")
    if y_pred.ndim == 1:
        frame = pd.DataFrame({"y_true": y_test, "y_pred": y_pred})
    else:
        frame = pd.DataFrame({f"y_{side}_output_{j}": values[:, j]
                              for j in range(y_pred.shape[1]) for side, values in (("true", y_test), ("pred", y_pred))})
    run.log_dataframe(frame.head(nrows), "test_predictions", step=step)


def _log_estimator(run: Any, estimator: Any, params: dict[str, Any], metrics: dict[str, float],
                   model_name: str) -> None:
    joblib = need("joblib", "saving a scikit-learn estimator")
    log_saved_file(run, lambda path: joblib.dump(estimator, path), f"{model_name}.joblib",
                   name=model_name, framework="scikit-learn", algorithm=type(estimator).__name__, metrics=metrics, params=params)


def _evaluate(function: str, kind: str, estimator: Any, X_test: Any, y_test: Any, nrows: int, run: Any,
              log_model: bool, model_name: str, step: int | None, metrics: Any) -> dict[str, float]:
    """The shared body: params, predictions, ``metrics(run, y_test, y_pred)``, the model."""
    _check(estimator, kind, function)
    np = need("numpy", WHAT)
    run = resolve_run(run)
    params = jsonable_params(estimator.get_params())
    run.log_inputs(**params)
    y_test = np.asarray(y_test)
    y_pred = np.asarray(estimator.predict(X_test))
    results = {k: float(v) for k, v in metrics(run, y_test, y_pred).items()}
    run.log_metrics(step=step, **results)
    _log_predictions(run, y_test, y_pred, nrows, step)
    if log_model:
        _log_estimator(run, estimator, params, results, model_name)
    return results


def log_classifier(classifier: Any, X_test: Any, y_test: Any, nrows: int = 1000, run: Any = None, *,
                   log_model: bool = True, model_name: str = "model", step: int | None = None) -> dict[str, float]:
    """Evaluate a fitted classifier on ``(X_test, y_test)`` and log it (see the module docstring);
    returns the metrics logged.

    ``log_classifier(model, X_test, y_test)``; ``run=`` picks the run (default: the active one).
    """

    def metrics(run: Any, y_test: Any, y_pred: Any) -> dict[str, Any]:
        return _classifier_metrics(run, classifier, X_test, y_test, y_pred, nrows, step)

    return _evaluate("log_classifier", "classifier", classifier, X_test, y_test, nrows, run, log_model,
                     model_name, step, metrics)


def log_regressor(regressor: Any, X_test: Any, y_test: Any, nrows: int = 1000, run: Any = None, *,
                  log_model: bool = True, model_name: str = "model", step: int | None = None) -> dict[str, float]:
    """Evaluate a fitted regressor on ``(X_test, y_test)`` and log it (see the module docstring);
    returns the metrics logged.

    ``log_regressor(model, X_test, y_test)``; ``run=`` picks the run (default: the active one).
    """
    return _evaluate("log_regressor", "regressor", regressor, X_test, y_test, nrows, run, log_model,
                     model_name, step, _regressor_metrics)


def _regressor_metrics(run: Any, y_test: Any, y_pred: Any) -> dict[str, Any]:
    metrics_module = need("sklearn.metrics", WHAT)
    results = {
        "mse": metrics_module.mean_squared_error(y_test, y_pred),
        "mae": metrics_module.mean_absolute_error(y_test, y_pred),
        "r2": metrics_module.r2_score(y_test, y_pred),
        "evs": metrics_module.explained_variance_score(y_test, y_pred),
    }
    if y_pred.ndim == 1:
        results["me"] = metrics_module.max_error(y_test, y_pred)
    return results


def _classifier_metrics(run: Any, classifier: Any, X_test: Any, y_test: Any, y_pred: Any, nrows: int,
                        step: int | None) -> dict[str, Any]:
    """The classifier's metrics; logs its curves, confusion matrix and probabilities on the way."""
    import numpy as np

    metrics_module = need("sklearn.metrics", WHAT)
    classes = np.asarray(getattr(classifier, "classes_", np.unique(np.concatenate([y_test, y_pred]))))
    binary = len(classes) == 2
    average = "binary" if binary else "weighted"
    pos_label = classes[1] if binary else 1
    results: dict[str, Any] = {
        "accuracy": metrics_module.accuracy_score(y_test, y_pred),
        "precision": metrics_module.precision_score(y_test, y_pred, average=average, pos_label=pos_label,
                                                    zero_division=0),
        "recall": metrics_module.recall_score(y_test, y_pred, average=average, pos_label=pos_label,
                                              zero_division=0),
        "f1": metrics_module.f1_score(y_test, y_pred, average=average, pos_label=pos_label, zero_division=0),
    }
    per_class = metrics_module.precision_recall_fscore_support(y_test, y_pred, labels=classes, zero_division=0)
    for metric_name, values in zip(("precision", "recall", "fbeta_score", "support"), per_class):
        for index, value in enumerate(values):
            results[f"{metric_name}_class_{index}_test"] = value

    scores = _scores(classifier, X_test)
    if scores is not None:
        scores = np.asarray(scores, dtype=float)
        per_class_scores = scores.ndim == 2 and scores.shape[1] == len(classes)
        if per_class_scores:
            run.log_dataframe(_proba_frame(scores, classes).head(nrows), "test_proba_predictions", step=step)
        if len(np.unique(y_test)) > 1:
            if binary:
                positive = scores[:, 1] if scores.ndim == 2 else scores
                truth = (y_test == classes[1]).astype(int)
                results["roc_auc"] = metrics_module.roc_auc_score(truth, positive)
                run.log_sklearn_roc_auc_curve("roc_curve", positive, truth, step=step)
                run.log_sklearn_pr_curve("pr_curve", positive, truth, step=step)
            elif per_class_scores:
                indexes = np.searchsorted(classes, y_test)
                if set(np.unique(y_test).tolist()) == set(classes.tolist()) and _is_proba(scores):
                    results["roc_auc"] = metrics_module.roc_auc_score(
                        y_test, scores, multi_class="ovr", average="weighted", labels=classes)
                run.log_sklearn_roc_auc_curve("roc_curve", scores, indexes, step=step, is_multi_class=True)
                run.log_sklearn_pr_curve("pr_curve", scores, indexes, step=step, is_multi_class=True)

    matrix = metrics_module.confusion_matrix(y_test, y_pred, labels=classes)
    labels = [_label(c) for c in classes]
    run.log_confusion_matrix("confusion_matrix", labels, labels, matrix, step=step)
    return results


def _is_proba(scores: Any) -> bool:
    import numpy as np

    return bool(np.all(scores >= 0) and np.allclose(scores.sum(axis=1), 1.0))


def _label(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _proba_frame(scores: Any, classes: Any) -> Any:
    pd = need("pandas", "logging predicted probabilities")
    return pd.DataFrame(scores, columns=[str(_label(c)) for c in classes])
