"""scikit-learn: log_classifier / log_regressor on small fits, read back through labbook.get_run."""

from __future__ import annotations

import importlib.util
import os
import tempfile

import numpy as np
import pytest

import labbook
from labbook import tracking
from labbook.errors import InvalidValueError
from tests.conftest import require

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
if HAVE_SKLEARN:
    import joblib
    from sklearn import metrics
    from sklearn.datasets import load_iris, make_classification, make_regression
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler


@pytest.fixture(autouse=True)
def _sklearn():
    require(HAVE_SKLEARN, "scikit-learn is not installed (pip install -e '.[test]')")


def _start(project: str):
    return tracking.init(project=project, track_code=False, track_env=False, track_logs=False)


def _model(project: str):
    return joblib.load(labbook.get_artifact(f"store://models/{project}/model").local_path())


def test_binary_classifier_metrics_curves_confusion_predictions_and_model():
    from labbook.integrations.sklearn import log_classifier

    X, y = make_classification(n_samples=160, n_features=6, flip_y=0.2, class_sep=0.5, random_state=1)
    labels = np.where(y == 1, "yes", "no")  # string classes: the positive class is classes_[1]
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_size=0.4, random_state=1)
    model = LogisticRegression(C=0.5, max_iter=200).fit(X_train, y_train)
    y_pred = model.predict(X_test)
    expected_f1 = metrics.f1_score(y_test, y_pred, pos_label="yes")
    # Polyaxon's f1_score(y_pred, y_pred) is always 1.0; this case must differ from it.
    assert metrics.f1_score(y_pred, y_pred, pos_label="yes") == 1.0 and expected_f1 < 0.99

    run = _start("clf")
    returned = log_classifier(model, X_test, y_test)
    tracking.end()

    record = labbook.get_run(run.uuid)
    value = lambda name: float(record.metric(name).values[-1])  # noqa: E731
    assert value("f1") == pytest.approx(expected_f1) == pytest.approx(returned["f1"])
    assert value("accuracy") == pytest.approx(metrics.accuracy_score(y_test, y_pred))
    assert value("precision") == pytest.approx(metrics.precision_score(y_test, y_pred, pos_label="yes"))
    assert value("recall") == pytest.approx(metrics.recall_score(y_test, y_pred, pos_label="yes"))
    proba = model.predict_proba(X_test)[:, 1]
    assert value("roc_auc") == pytest.approx(metrics.roc_auc_score(y_test == "yes", proba))
    assert value("support_class_1_test") == float((y_test == "yes").sum())
    assert record.inputs["C"] == 0.5 and record.inputs["max_iter"] == 200

    [roc] = record.events("curve", "roc_curve")
    fpr, tpr, _ = metrics.roc_curve(y_test == "yes", proba)
    assert roc.x.tolist() == pytest.approx(fpr.tolist()) and roc.y.tolist() == pytest.approx(tpr.tolist())
    assert record.event_names("curve") == ["pr_curve", "roc_curve"]
    [confusion] = record.events("confusion", "confusion_matrix")
    assert confusion.value["x"] == ["no", "yes"]
    assert confusion.matrix.tolist() == metrics.confusion_matrix(y_test, y_pred, labels=["no", "yes"]).tolist()
    [predictions] = record.events("dataframe", "test_predictions")
    frame = predictions.load()
    assert frame["y_true"].tolist() == y_test.tolist() and frame["y_pred"].tolist() == y_pred.tolist()
    [probabilities] = record.events("dataframe", "test_proba_predictions")
    assert probabilities.load()["yes"].to_numpy() == pytest.approx(proba)

    loaded = _model("clf")
    assert loaded.predict(X_test).tolist() == y_pred.tolist()
    artifact = labbook.get_artifact("store://models/clf/model")
    assert artifact.meta["framework"] == "scikit-learn" and artifact.meta["algorithm"] == "LogisticRegression"


def test_multiclass_classifier_weighted_scores_one_curve_per_class_and_pipeline_params():
    from labbook.integrations.sklearn import log_classifier

    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=2)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=2)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)).fit(X_train, y_train)
    y_pred = model.predict(X_test)

    run = _start("multi")
    log_classifier(model, X_test, y_test, nrows=10)
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert float(record.metric("f1").values[-1]) == pytest.approx(
        metrics.f1_score(y_test, y_pred, average="weighted"))
    assert float(record.metric("roc_auc").values[-1]) == pytest.approx(
        metrics.roc_auc_score(y_test, model.predict_proba(X_test), multi_class="ovr", average="weighted"))
    assert sorted(record.event_names("curve")) == ["pr_curve_0", "pr_curve_1", "pr_curve_2",
                                                   "roc_curve_0", "roc_curve_1", "roc_curve_2"]
    # A pipeline's steps are estimators: recorded as their repr, never dropped.
    assert record.inputs["logisticregression__max_iter"] == 300
    assert "StandardScaler()" in str(record.inputs["steps"])
    [predictions] = record.events("dataframe", "test_predictions")
    assert len(predictions.load()) == 10
    assert _model("multi").predict(X_test).tolist() == y_pred.tolist()


def test_regressor_metrics_predictions_and_model():
    from labbook.integrations.sklearn import log_regressor

    X, y = make_regression(n_samples=80, n_features=4, noise=5.0, random_state=3)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=3)
    model = LinearRegression().fit(X_train, y_train)
    y_pred = model.predict(X_test)

    run = _start("reg")
    log_regressor(model, X_test, y_test, step=3)
    tracking.end()

    record = labbook.get_run(run.uuid)
    expected = {"mse": metrics.mean_squared_error(y_test, y_pred), "mae": metrics.mean_absolute_error(y_test, y_pred),
                "r2": metrics.r2_score(y_test, y_pred), "evs": metrics.explained_variance_score(y_test, y_pred),
                "me": metrics.max_error(y_test, y_pred)}
    for name, value in expected.items():
        series = record.metric(name)
        assert series.steps.tolist() == [3] and float(series.values[0]) == pytest.approx(value)
    assert record.inputs["fit_intercept"] is True
    np.testing.assert_allclose(_model("reg").predict(X_test), y_pred)


def test_wrong_estimator_kind_says_which_function_to_use(run_factory):
    from labbook.integrations.sklearn import log_classifier, log_regressor

    X, y = make_regression(n_samples=20, n_features=2, random_state=0)
    regressor = LinearRegression().fit(X, y)
    with pytest.raises(InvalidValueError, match=r"LinearRegression is not a scikit-learn classifier.*log_regressor"):
        log_classifier(regressor, X, y, run=run_factory())
    Xc, yc = make_classification(n_samples=20, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    classifier = LogisticRegression().fit(Xc, yc)
    with pytest.raises(InvalidValueError, match="log_classifier"):
        log_regressor(classifier, Xc, yc, run=run_factory())


def test_polyaxon_scikit_iris_example_runs_with_only_the_import_changed():
    """Polyaxon's scikit-learn integration page ("Example regressor", logging a joblib model) on
    iris with a classifier, the data bundled with scikit-learn; ``versioned=False`` is accepted."""
    from labbook.tracking.contrib.scikit import log_classifier

    parameters = {"C": 1.0, "max_iter": 200}
    clf = LogisticRegression(**parameters)
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.20, random_state=28743)

    tracking.init(name="classifier", is_offline=True)
    tracking.log_inputs(**parameters)
    tracking.log_data_ref(content=X_train, name="x_train", is_input=True)
    tracking.log_data_ref(content=y_train, name="y_train", is_input=True)
    tracking.log_data_ref(content=X_test, name="x_test", is_input=True)
    tracking.log_data_ref(content=y_test, name="y_test", is_input=True)
    clf.fit(X_train, y_train)
    log_classifier(clf, X_test, y_test)
    with tempfile.TemporaryDirectory() as d:
        model_path = os.path.join(d, "model.joblib")
        joblib.dump(clf, model_path)
        tracking.log_model(model_path, name="model", framework="scikit-learn", versioned=False)
    run = tracking.TRACKING_RUN
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded" and record.name == "classifier"
    assert float(record.metric("accuracy").values[-1]) == pytest.approx(clf.score(X_test, y_test))
    assert float(record.metric("f1").values[-1]) == pytest.approx(
        metrics.f1_score(y_test, clf.predict(X_test), average="weighted"))
    assert _model(record.project).predict(X_test).tolist() == clf.predict(X_test).tolist()
