"""XGBoost: a training callback for ``xgb.train`` and ``xgb.cv`` (``pip install 'labbook[xgboost]'``).

::

    import xgboost as xgb
    from labbook import tracking
    from labbook.integrations.xgboost import Callback

    tracking.init(project="churn")
    booster = xgb.train(params, dtrain, num_boost_round=50,
                        evals=[(dtrain, "train"), (dvalid, "valid")], callbacks=[Callback()])
    tracking.end()

What it logs:

* every iteration: ``<dataset>-<metric>`` (``valid-logloss``) as metrics at ``step`` = iteration;
  with ``xgb.cv``, ``<dataset>-<metric>-mean`` and ``-std``;
* after training: the booster as model ``model`` (``outputs/model/model.json``, XGBoost's JSON
  format, loadable with ``xgb.Booster(model_file=...)``); with ``xgb.cv``, one per fold,
  ``model-<i>``;
* feature importance (``importance_type``, ``"gain"`` by default) as the chart
  ``feature_importance`` (see ``labbook.integrations._common.log_importance``); one step per fold
  with ``xgb.cv``;
* the booster's configuration (``save_config()``) as the input ``config`` (the first fold's with
  ``xgb.cv``: every fold shares it);
* outputs ``best_score``, ``best_iteration`` and ``best_metric``. With early stopping these are
  XGBoost's own; without, they are computed the same way early stopping would: the last
  evaluation set's last metric, maximised for ``auc``, ``aucpr``, ``map``, ``ndcg`` and ``pre``
  (and their ``@k`` forms), minimised otherwise (the mean with ``xgb.cv``).

``run=`` picks the run; by default the active one (a new one is started if there is none).
"""

from __future__ import annotations

import json
from typing import Any

from labbook.integrations._common import best_point, log_importance, log_saved_file, resolve_run
from labbook.media.optional import need

xgb = need("xgboost", "labbook.integrations.xgboost")

# XGBoost's EarlyStopping maximises metrics whose names start with these (except "mape").
_MAXIMIZE = ("auc", "aucpr", "map", "ndcg", "pre")


def _maximized(metric: str) -> bool:
    return metric != "mape" and metric.startswith(_MAXIMIZE)


def _folds(model: Any) -> list[Any] | None:
    """The fold boosters of an ``xgb.cv`` model, or None for ``xgb.train``."""
    folds = getattr(model, "cvfolds", None)
    return None if folds is None else [fold.bst for fold in folds]


class Callback(xgb.callback.TrainingCallback):
    """Log an XGBoost training to a labbook run (see the module docstring)."""

    def __init__(self, run: Any = None, log_model: bool = True, log_importance: bool = True,
                 importance_type: str = "gain", max_num_features: int | None = None, *,
                 model_name: str = "model") -> None:
        super().__init__()
        self.run = resolve_run(run)
        self.log_model = log_model
        self.log_importance = log_importance
        self.importance_type = importance_type
        self.max_num_features = max_num_features
        self.model_name = model_name
        self._history: dict[str, list[tuple[int, float]]] = {}
        self._watched: tuple[str, str] | None = None  # (series, metric) early stopping would watch

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, dict[str, list]]) -> bool:
        metrics: dict[str, float] = {}
        for data, by_metric in evals_log.items():
            for metric, values in by_metric.items():
                key, last = f"{data}-{metric}", values[-1]
                if isinstance(last, tuple):  # xgb.cv: (mean, std)
                    value = float(last[0])
                    metrics[f"{key}-mean"], metrics[f"{key}-std"] = value, float(last[1])
                else:
                    value = metrics[key] = float(last)
                self._history.setdefault(key, []).append((epoch, value))
                self._watched = (key, metric)
        if metrics:
            self.run.log_metrics(step=epoch, **metrics)
        return False

    def after_training(self, model: Any) -> Any:
        folds = _folds(model)
        boosters = folds if folds is not None else [model]
        best = self._best(model)
        if best:
            self.run.log_outputs(**best)
        if self.log_model:
            metrics = {k: v for k, v in best.items() if k != "best_metric"}
            for index, booster in enumerate(boosters):
                name = self.model_name if folds is None else f"{self.model_name}-{index}"
                log_saved_file(self.run, booster.save_model, f"{name}.json", name=name, framework="xgboost",
                               algorithm="Booster", metrics=metrics)
        if self.log_importance:
            for index, booster in enumerate(boosters):
                scores = booster.get_score(importance_type=self.importance_type)
                log_importance(self.run, list(scores), list(scores.values()),
                               importance_type=self.importance_type, max_num_features=self.max_num_features,
                               step=None if folds is None else index)
        self.run.log_inputs(config=json.loads(boosters[0].save_config()))
        return model

    def _best(self, model: Any) -> dict[str, Any]:
        if self._watched is None:
            return {}
        key, metric = self._watched
        score, iteration = model.attr("best_score"), model.attr("best_iteration")
        if score is not None and iteration is not None:  # set by XGBoost's early stopping
            return {"best_score": float(score), "best_iteration": int(iteration), "best_metric": key}
        point = best_point(self._history[key], _maximized(metric))
        if point is None:
            return {}
        return {"best_score": point[1], "best_iteration": point[0], "best_metric": key}


def callback(log_model: bool = True, log_importance: bool = True, max_num_features: int | None = None,
             run: Any = None) -> Callback:
    """Polyaxon's ``callback(...)`` with its arguments; returns a ``Callback``.

    Polyaxon's returned a function of the pre-1.3 callback API, which XGBoost 2 no longer
    accepts, and saved the model at every iteration; this one saves it once, after training.
    """
    return Callback(run=run, log_model=log_model, log_importance=log_importance,
                    max_num_features=max_num_features)
