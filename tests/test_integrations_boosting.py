"""XGBoost and LightGBM callbacks: tiny trainings (2 rounds) read back through labbook.get_run."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import labbook
from labbook import tracking
from tests.conftest import require

ROUNDS = 2


def _need(module: str) -> None:
    require(importlib.util.find_spec(module) is not None, f"{module} is not installed (pip install -e '.[test]')")


@pytest.fixture
def data():
    _need("sklearn")
    from sklearn import datasets as sklearn_datasets

    X, y = sklearn_datasets.make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)
    return X[:90], y[:90], X[90:], y[90:]


def _model_bytes(project: str, key: str) -> bytes:
    return labbook.get_artifact(f"store://models/{project}/{key}").read_bytes()


def _load_file(tmp_path, content: bytes, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def _assert_every_point_and_best(uuid: str, history: dict, best: str):
    """Every ``<dataset>-<metric>`` of the framework's own history at steps 0.., and the best of
    the series ``best`` (a maximised one) as outputs."""
    record = labbook.get_run(uuid)
    assert record.status == "succeeded"
    expected = sorted(f"{data}-{metric}" for data, by_metric in history.items() for metric in by_metric)
    assert sorted(record.metric_names()) == expected
    for data, by_metric in history.items():
        for metric, values in by_metric.items():
            series = record.metric(f"{data}-{metric}")
            assert series.steps.tolist() == list(range(ROUNDS))
            np.testing.assert_allclose(series.values, values)
    data, metric = best.split("-", 1)
    values = list(history[data][metric])
    assert record.outputs["best_metric"] == best
    assert record.outputs["best_score"] == pytest.approx(max(values))
    assert record.outputs["best_iteration"] == values.index(max(values))
    return record


# -- XGBoost -----------------------------------------------------------------------------------


@pytest.fixture
def xgb():
    _need("xgboost")
    import xgboost

    return xgboost


def test_xgboost_train_logs_metrics_model_importance_config_and_best(xgb, data, tmp_path):
    from labbook.integrations.xgboost import Callback

    X_train, y_train, X_test, y_test = data
    dtrain, dvalid = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_test, label=y_test)
    run = tracking.init(project="xgb", track_code=False, track_env=False, track_logs=False)
    history: dict = {}
    booster = xgb.train({"max_depth": 2, "eta": 0.5, "objective": "binary:logistic", "nthread": 1,
                         "eval_metric": ["logloss", "auc"]}, dtrain, ROUNDS,
                        evals=[(dtrain, "train"), (dvalid, "valid")], evals_result=history,
                        verbose_eval=False, callbacks=[Callback()])
    tracking.end()

    # Early stopping's rule without early stopping: the last set's last metric (auc, maximised).
    record = _assert_every_point_and_best(run.uuid, history, "valid-auc")
    assert record.inputs["config"]["learner"]["objective"]["name"] == "binary:logistic"
    assert record.inputs["config"]["learner"]["gradient_booster"]["tree_train_param"]["max_depth"] == "2"

    loaded = xgb.Booster(model_file=_load_file(tmp_path, _model_bytes("xgb", "model"), "model.json"))
    np.testing.assert_allclose(loaded.predict(dvalid), booster.predict(dvalid), rtol=1e-6)

    [chart] = record.events("chart", "feature_importance")
    bar = chart.value["figure"]["data"][0]
    gain = booster.get_score(importance_type="gain")
    assert chart.value["kind"] == "plotly" and bar["type"] == "bar"
    assert dict(zip(bar["y"], bar["x"])) == pytest.approx(gain)


def test_xgboost_early_stopping_outputs_are_xgboosts_own(xgb, data):
    from labbook.integrations.xgboost import Callback

    X_train, y_train, X_test, y_test = data
    dtrain, dvalid = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_test, label=y_test)
    run = tracking.init(project="xgb", track_code=False, track_env=False, track_logs=False)
    booster = xgb.train({"max_depth": 2, "objective": "binary:logistic", "nthread": 1, "eval_metric": "logloss"},
                        dtrain, 20, evals=[(dvalid, "valid")], early_stopping_rounds=1, verbose_eval=False,
                        callbacks=[Callback(log_model=False, log_importance=False)])
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.outputs["best_iteration"] == booster.best_iteration
    assert record.outputs["best_score"] == pytest.approx(booster.best_score)
    steps = record.metric("valid-logloss").steps.tolist()
    assert steps == list(range(booster.num_boosted_rounds())) and len(steps) < 20
    assert "feature_importance" not in record.event_names("chart")
    with pytest.raises(labbook.errors.NotFoundError):
        _model_bytes("xgb", "model")


def test_xgboost_cv_logs_means_stds_and_one_model_per_fold(xgb, data, tmp_path):
    from labbook.integrations.xgboost import Callback

    X_train, y_train, _, _ = data
    dtrain = xgb.DMatrix(X_train, label=y_train)
    run = tracking.init(project="xgbcv", track_code=False, track_env=False, track_logs=False)
    result = xgb.cv({"max_depth": 2, "objective": "binary:logistic", "nthread": 1, "eval_metric": "logloss"},
                    dtrain, ROUNDS, nfold=3, seed=0, callbacks=[Callback()])
    tracking.end()

    record = labbook.get_run(run.uuid)
    for column in ("train-logloss-mean", "train-logloss-std", "test-logloss-mean", "test-logloss-std"):
        series = record.metric(column)
        assert series.steps.tolist() == list(range(ROUNDS))
        np.testing.assert_allclose(series.values, result[column].to_numpy(), rtol=1e-6)
    means = result["test-logloss-mean"].to_numpy()
    assert record.outputs["best_iteration"] == int(np.argmin(means))
    assert record.outputs["best_score"] == pytest.approx(float(means.min()))
    for fold in range(3):
        loaded = xgb.Booster(model_file=_load_file(tmp_path, _model_bytes("xgbcv", f"model-{fold}"), "m.json"))
        assert loaded.num_boosted_rounds() == ROUNDS
    assert [e.step for e in record.events("chart", "feature_importance")] == [0, 1, 2]


def test_feature_importance_without_plotly_is_a_curve(xgb, data, monkeypatch):
    from labbook.integrations.xgboost import Callback

    monkeypatch.setitem(sys.modules, "plotly", None)
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)
    X_train, y_train, _, _ = data
    run = tracking.init(project="xgb", track_code=False, track_env=False, track_logs=False)
    booster = xgb.train({"max_depth": 2, "nthread": 1, "objective": "binary:logistic"},
                        xgb.DMatrix(X_train, label=y_train), ROUNDS,
                        callbacks=[Callback(log_model=False, importance_type="weight", max_num_features=2)])
    tracking.end()

    [curve] = labbook.get_run(run.uuid).events("curve", "feature_importance")
    weights = sorted(booster.get_score(importance_type="weight").items(), key=lambda item: -item[1])[:2]
    assert curve.x.tolist() == [0.0, 1.0]
    assert curve.y.tolist() == [float(w) for _, w in weights]
    assert curve.value["annotation"] == "weight importance by rank: " + ", ".join(name for name, _ in weights)


def test_polyaxon_xgboost_example_runs_with_only_the_import_changed(xgb, data):
    """polyaxon-examples in_cluster/xgboost/boston/model.py: ``polyaxon_callback()`` passed to
    ``xgb.train`` (and ``xgb.cv`` with --cross_validate), data made locally instead of Boston."""
    import pandas as pd

    from labbook.tracking.contrib.xgboost import polyaxon_callback

    X_train, y_train, X_test, y_test = data
    params = {"max_depth": 5, "eta": 0.5, "gamma": 0.1, "subsample": 1, "lambda": 1, "alpha": 0.35,
              "objective": "reg:squarederror", "eval_metric": ["mae", "rmse"], "nthread": 1}
    run = tracking.init(is_offline=True)
    X_train, X_test = pd.DataFrame(X_train), pd.DataFrame(X_test)
    tracking.log_data_ref(content=X_train, name="x_train")
    tracking.log_data_ref(content=y_train, name="y_train")
    tracking.log_data_ref(content=X_test, name="X_test")
    tracking.log_data_ref(content=y_test, name="y_test")
    callback = polyaxon_callback()
    dtrain = xgb.DMatrix(X_train, label=y_train)
    dtest = xgb.DMatrix(X_test, label=y_test)
    xgb.train(params, dtrain, ROUNDS, [(dtest, "eval"), (dtrain, "train")], callbacks=[callback])
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    assert sorted(record.metric_names()) == ["eval-mae", "eval-rmse", "train-mae", "train-rmse"]
    assert all(record.metric(name).steps.tolist() == [0, 1] for name in record.metric_names())
    assert record.outputs["best_metric"] == "train-rmse"


# -- LightGBM -----------------------------------------------------------------------------------


@pytest.fixture
def lgb():
    _need("lightgbm")
    import lightgbm

    return lightgbm


@pytest.fixture
def lgb_sets(lgb, data):
    X_train, y_train, X_test, y_test = data
    train_set = lgb.Dataset(X_train, label=y_train)
    return train_set, lgb.Dataset(X_test, label=y_test, reference=train_set)


LGB_PARAMS = {"objective": "binary", "metric": ["auc", "binary_logloss"], "num_leaves": 4, "min_data_in_leaf": 5,
              "verbose": -1, "num_threads": 1, "deterministic": True}


def test_lightgbm_train_logs_params_metrics_model_importance_and_best(lgb, data, lgb_sets, tmp_path):
    from labbook.integrations.lightgbm import callback

    X_test = data[2]
    train_set, valid_set = lgb_sets
    history: dict = {}
    run = tracking.init(project="lgb", track_code=False, track_env=False, track_logs=False)
    booster = lgb.train(LGB_PARAMS, train_set, ROUNDS, valid_sets=[train_set, valid_set],
                        valid_names=["train", "valid"],
                        callbacks=[callback(), lgb.record_evaluation(history)])
    tracking.end()

    # The last set's first metric (auc; LightGBM says higher is better).
    record = _assert_every_point_and_best(run.uuid, history, "valid-auc")
    assert record.inputs["num_leaves"] == 4 and record.inputs["metric"] == ["auc", "binary_logloss"]

    loaded = lgb.Booster(model_file=_load_file(tmp_path, _model_bytes("lgb", "model"), "model.txt"))
    np.testing.assert_allclose(loaded.predict(X_test), booster.predict(X_test))
    [chart] = record.events("chart", "feature_importance")
    gains = dict(zip(booster.feature_name(), booster.feature_importance(importance_type="gain")))
    bar = chart.value["figure"]["data"][0]
    assert dict(zip(bar["y"], bar["x"])) == pytest.approx(gains)


def test_lightgbm_cv_logs_means_stds_and_one_model_per_fold(lgb, data, tmp_path):
    from labbook.integrations.lightgbm import callback

    X_train, y_train, _, _ = data
    run = tracking.init(project="lgbcv", track_code=False, track_env=False, track_logs=False)
    result = lgb.cv(LGB_PARAMS, lgb.Dataset(X_train, label=y_train), ROUNDS, nfold=3, seed=0,
                    callbacks=[callback(log_importance=False)])
    tracking.end()

    record = labbook.get_run(run.uuid)
    for metric in ("auc", "binary_logloss"):
        for stat in ("mean", "stdv"):
            series = record.metric(f"valid-{metric}-{'std' if stat == 'stdv' else stat}")
            assert series.steps.tolist() == list(range(ROUNDS))
            np.testing.assert_allclose(series.values, result[f"valid {metric}-{stat}"])
    for fold in range(3):
        loaded = lgb.Booster(model_file=_load_file(tmp_path, _model_bytes("lgbcv", f"model-{fold}"), "m.txt"))
        assert loaded.num_trees() == ROUNDS


def test_lightgbm_early_stopping_then_log_booster(lgb, lgb_sets):
    from labbook.integrations.lightgbm import callback, log_booster

    train_set, valid_set = lgb_sets
    history: dict = {}
    run = tracking.init(project="lgbes", track_code=False, track_env=False, track_logs=False)
    booster = lgb.train({**LGB_PARAMS, "metric": "binary_logloss", "learning_rate": 0.5}, train_set, 50,
                        valid_sets=[valid_set], valid_names=["valid"],
                        callbacks=[callback(), lgb.early_stopping(1, verbose=False),
                                   lgb.record_evaluation(history)])
    ran = len(history["valid"]["binary_logloss"])
    assert ran < 50  # it did stop early
    assert labbook.get_run(run.uuid).outputs == {}  # the callback cannot see that end
    log_booster(booster)
    tracking.end()

    record = labbook.get_run(run.uuid)
    # Every iteration's metrics, the stopping one included (the callback runs before early stopping).
    series = record.metric("valid-binary_logloss")
    assert series.steps.tolist() == list(range(ran))
    np.testing.assert_allclose(series.values, history["valid"]["binary_logloss"])
    assert record.outputs["best_iteration"] == booster.best_iteration - 1
    assert record.outputs["best_score"] == pytest.approx(booster.best_score["valid"]["binary_logloss"])
    assert labbook.get_artifact("store://models/lgbes/model").meta["framework"] == "lightgbm"


def test_polyaxon_lightgbm_example_runs_with_only_the_import_changed(lgb):
    """Polyaxon's LightGBM integration page (polyaxon-examples in_cluster/lightgbm/wine): multiclass
    wine with ``polyaxon_callback()``, a multi-class ROC and ``log_model_ref``; data made locally
    and 2 rounds instead of 500."""
    _need("sklearn")
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    from labbook.tracking.contrib.lightgbm import polyaxon_callback

    params = {"boosting_type": "gbdt", "objective": "multiclass", "num_class": 3, "num_leaves": 31,
              "learning_rate": 0.05, "feature_fraction": 0.9, "verbose": -1, "num_threads": 1}
    run = tracking.init(is_offline=True)
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    tracking.log_data_ref(content=X_train, name="x_train", is_input=True)
    tracking.log_data_ref(content=y_train, name="y_train", is_input=True)
    tracking.log_data_ref(content=X_test, name="X_test", is_input=True)
    tracking.log_data_ref(content=y_test, name="y_train", is_input=True)
    lgb_train = lgb.Dataset(X_train, y_train)
    lgb_eval = lgb.Dataset(X_test, y_test, reference=lgb_train)
    gbm = lgb.train(params, lgb_train, num_boost_round=ROUNDS, valid_sets=[lgb_train, lgb_eval],
                    valid_names=["train", "valid"], callbacks=[polyaxon_callback()])
    y_test_pred = gbm.predict(X_test)
    tracking.log_sklearn_roc_auc_curve("roc_c", y_test_pred, y_test, is_multi_class=True)
    model_path = tracking.get_outputs_path("model/lightgbm.pkl")
    gbm.save_model(model_path)
    tracking.log_model_ref(model_path, framework="lightgbm")
    tracking.end()

    record = labbook.get_run(run.uuid)
    assert record.status == "succeeded"
    for name in ("train-multi_logloss", "valid-multi_logloss"):
        assert record.metric(name).steps.tolist() == [0, 1]
    assert sorted(record.event_names("curve")) == ["roc_c_0", "roc_c_1", "roc_c_2"]
