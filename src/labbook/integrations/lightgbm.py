"""LightGBM: a training callback for ``lgb.train`` and ``lgb.cv`` (``pip install 'labbook[lightgbm]'``).

::

    import lightgbm as lgb
    from labbook import tracking
    from labbook.integrations.lightgbm import callback

    tracking.init(project="churn")
    booster = lgb.train(params, train_set, num_boost_round=50, valid_sets=[train_set, valid_set],
                        valid_names=["train", "valid"], callbacks=[callback()])
    tracking.end()

What it logs:

* at the first iteration: the training params (``lgb.train``'s ``params``) as inputs;
* every iteration: ``<dataset>-<metric>`` (``valid-auc``) as metrics at ``step`` = iteration;
  with ``lgb.cv``, ``<dataset>-<metric>-mean`` and ``-std``;
* at the last iteration: the booster as model ``model`` (``outputs/model/model.txt``, LightGBM's
  text format, loadable with ``lgb.Booster(model_file=...)``; with ``lgb.cv``, one per fold,
  ``model-<i>``), feature importance (``importance_type``, ``"gain"`` by default) as the chart
  ``feature_importance``, and the outputs ``best_score``, ``best_iteration`` and ``best_metric``:
  the last evaluation set's first metric, in LightGBM's own direction (``is_higher_better``).

A LightGBM callback cannot see the end of a training stopped early (``lgb.early_stopping``):
the metrics of every iteration are logged, and ``log_booster(booster)`` after ``lgb.train``
returns logs the model, the importance and LightGBM's own ``best_iteration``/``best_score``.
"""

from __future__ import annotations

from typing import Any

from labbook.integrations._common import (
    best_point,
    jsonable_params,
    log_importance,
    log_saved_file,
    resolve_run,
)
from labbook.media.optional import need

lgb = need("lightgbm", "labbook.integrations.lightgbm")


def _boosters(model: Any) -> tuple[list[Any], bool]:
    """(boosters, is_cv): a ``CVBooster`` holds one booster per fold."""
    folds = getattr(model, "boosters", None)
    return (list(folds), True) if folds is not None else ([model], False)


def _log_boosters(run: Any, model: Any, *, name: str, log_model: bool, log_importance_chart: bool,
                  importance_type: str, max_num_features: int | None, metrics: dict[str, Any]) -> None:
    boosters, is_cv = _boosters(model)
    for index, booster in enumerate(boosters):
        model_name = f"{name}-{index}" if is_cv else name
        if log_model:
            log_saved_file(run, booster.save_model, f"{model_name}.txt", name=model_name, framework="lightgbm",
                           algorithm="Booster", metrics=metrics)
        if log_importance_chart:
            log_importance(run, booster.feature_name(), booster.feature_importance(importance_type=importance_type),
                           importance_type=importance_type, max_num_features=max_num_features,
                           step=index if is_cv else None)


class Callback:
    """Log a LightGBM training to a labbook run (see the module docstring)."""

    order = 20  # before lgb.early_stopping (30), so the iteration that stops is logged too
    before_iteration = False

    def __init__(self, run: Any = None, *, log_model: bool = True, log_importance: bool = True,
                 importance_type: str = "gain", max_num_features: int | None = None,
                 log_params: bool = True, model_name: str = "model") -> None:
        self.run = resolve_run(run)
        self.log_model = log_model
        self.log_importance = log_importance
        self.importance_type = importance_type
        self.max_num_features = max_num_features
        self.log_params = log_params
        self.model_name = model_name
        self._history: dict[str, list[tuple[int, float]]] = {}
        self._watched: tuple[str, bool] | None = None  # (series, higher is better)
        self._started = False

    def __call__(self, env: Any) -> None:
        if not self._started:
            self._started = True
            if self.log_params and env.params:
                self.run.log_inputs(**jsonable_params(env.params))
        metrics: dict[str, float] = {}
        last_data = None
        for item in env.evaluation_result_list:
            data, metric, value, higher = item[0], item[1], float(item[2]), bool(item[3])
            key = f"{data}-{metric}"
            if len(item) == 5:  # lgb.cv: (data, metric, mean, is_higher_better, std)
                metrics[f"{key}-mean"], metrics[f"{key}-std"] = value, float(item[4])
            else:
                metrics[key] = value
            self._history.setdefault(key, []).append((env.iteration, value))
            if data != last_data:  # the first metric of each dataset; the last dataset's wins
                self._watched, last_data = (key, higher), data
        if metrics:
            self.run.log_metrics(step=env.iteration, **metrics)
        if env.iteration + 1 == env.end_iteration:
            best = self._best()
            if best:
                self.run.log_outputs(**best)
            _log_boosters(self.run, env.model, name=self.model_name, log_model=self.log_model,
                          log_importance_chart=self.log_importance, importance_type=self.importance_type,
                          max_num_features=self.max_num_features,
                          metrics={k: v for k, v in best.items() if k != "best_metric"})

    def _best(self) -> dict[str, Any]:
        if self._watched is None:
            return {}
        key, higher = self._watched
        point = best_point(self._history[key], higher)
        if point is None:
            return {}
        return {"best_score": point[1], "best_iteration": point[0], "best_metric": key}


def callback(run: Any = None, *, log_model: bool = True, log_importance: bool = True,
             importance_type: str = "gain", max_num_features: int | None = None) -> Callback:
    """Polyaxon's ``callback(run=None)``; the keyword arguments are labbook's (see ``Callback``)."""
    return Callback(run, log_model=log_model, log_importance=log_importance, importance_type=importance_type,
                    max_num_features=max_num_features)


def log_booster(booster: Any, run: Any = None, *, name: str = "model", log_model: bool = True,
                log_importance: bool = True, importance_type: str = "gain",
                max_num_features: int | None = None) -> None:
    """Log a trained booster (or ``CVBooster``): the model, its feature importance, and LightGBM's
    ``best_iteration`` and ``best_score`` as outputs when early stopping set them.

    ``booster = lgb.train(..., callbacks=[callback(log_model=False), lgb.early_stopping(5)])``
    then ``log_booster(booster)``.
    """
    run = resolve_run(run)
    outputs: dict[str, Any] = {}
    if getattr(booster, "best_iteration", 0) and getattr(booster, "best_score", None):
        # LightGBM counts iterations from 1 here; the metric steps above count from 0.
        outputs["best_iteration"] = int(booster.best_iteration) - 1
        data, scores = list(booster.best_score.items())[-1]
        metric, score = next(iter(scores.items()))
        outputs.update(best_score=float(score), best_metric=f"{data}-{metric}")
        run.log_outputs(**outputs)
    _log_boosters(run, booster, name=name, log_model=log_model, log_importance_chart=log_importance,
                  importance_type=importance_type, max_num_features=max_num_features,
                  metrics={k: v for k, v in outputs.items() if k != "best_metric"})
