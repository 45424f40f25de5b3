"""PyTorch Lightning: a ``Logger`` that writes hyperparameters, metrics and checkpoints to a run.

::

    import lightning as L
    from labbook.integrations.lightning import LabbookLogger

    trainer = L.Trainer(max_epochs=5, logger=LabbookLogger(project="mnist"))
    trainer.fit(model, train_loader, val_loader)

It works with the ``lightning`` package (``lightning.pytorch``) and, when only that is installed,
with ``pytorch_lightning``.

- The run: ``run=`` if given; else, when ``tracking.init`` arguments are given (``project=``,
  ``name=``, ``run_uuid=``...), a run started with them; else the active run; else a new one.
  It is resolved lazily, on first use (``logger.experiment``), on rank zero.
- ``log_hyperparams``: the hyperparameters flattened with ``/`` between nested keys
  (``{"optim": {"lr": 0.1}}`` becomes the input ``optim/lr``; ``sep=`` changes it), callables
  turned into their names.
- ``log_metrics``: every metric at the trainer's step, with ``prefix`` joined by ``-`` as
  Lightning's own loggers do.
- ``after_save_checkpoint``: each new file that a ``ModelCheckpoint`` saved (its best, its top-k and
  ``last``) is logged as a new version of ``model_name`` (``log_model``, framework ``lightning``,
  the label ``checkpoint`` = ``best``, ``last`` or ``top_k``, the monitored score in its metrics)
  under ``outputs/checkpoints/``; ``log_model=False`` turns it off.
- ``save_dir`` is the run's ``outputs/`` folder, so ``ModelCheckpoint``'s default folder is
  ``outputs/<name>/<version>/checkpoints`` inside the run.
- Only rank zero logs, unless ``all_ranks=True`` (every rank then writes its own files into the
  same run; see the distributed section of the tracking docs).
- ``finalize`` ends the run only with ``end_on_finalize=True`` (a failed fit marks it ``failed``).
"""

from __future__ import annotations

import importlib.util
import os
from argparse import Namespace
from typing import Any

from labbook.integrations._common import copy_and_log_model, init_arguments, resolve_run, scalar
from labbook.media.optional import need


def _lightning_package() -> str:
    """``lightning.pytorch`` when the ``lightning`` package is installed, else ``pytorch_lightning``."""
    if importlib.util.find_spec("lightning") is not None:
        return "lightning.pytorch"
    if importlib.util.find_spec("pytorch_lightning") is not None:
        return "pytorch_lightning"
    return "lightning.pytorch"  # need() then names the extra to install


_PL = _lightning_package()
_loggers = need(f"{_PL}.loggers.logger", "labbook.integrations.lightning")
_utilities = need(f"{_PL}.utilities", "labbook.integrations.lightning")
_fabric_logger = need(
    "lightning.fabric.utilities.logger" if _PL == "lightning.pytorch" else "lightning_fabric.utilities.logger",
    "labbook.integrations.lightning",
)
rank_zero_only = _utilities.rank_zero_only


class LabbookLogger(_loggers.Logger):
    """A Lightning ``Logger`` over a labbook run; see the module docstring."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        run: Any = None,
        *,
        prefix: str = "",
        log_model: bool = True,
        model_name: str = "model",
        sep: str = "/",
        all_ranks: bool = False,
        end_on_finalize: bool = False,
        **init: Any,
    ) -> None:
        super().__init__()
        self._run = run
        self._init = init_arguments(**init)
        self._prefix = prefix
        self._log_model = log_model
        self._model_name = model_name
        self._sep = sep
        self._all_ranks = all_ranks
        self._end_on_finalize = end_on_finalize
        self._logged_checkpoints: dict[str, float] = {}

    # -- the run -------------------------------------------------------------------------------

    def _active(self) -> bool:
        return self._all_ranks or rank_zero_only.rank == 0

    @property
    def experiment(self) -> Any:
        """The labbook ``Run`` (a no-op stand-in on ranks that do not log)."""
        if not self._active():
            from labbook.tracking.run import NoOpRun

            return NoOpRun()
        if self._run is None:
            self._run = resolve_run(None, self._init)
        return self._run

    @property
    def name(self) -> str:
        run = self.experiment
        return str(getattr(run, "name", None) or getattr(run, "project", None) or "labbook")

    @property
    def version(self) -> str:
        return str(getattr(self.experiment, "uuid", None) or "")

    @property
    def save_dir(self) -> str | None:
        if not self._active():
            return None
        return self.experiment.get_outputs_path()

    @property
    def root_dir(self) -> str | None:
        save_dir = self.save_dir
        return None if save_dir is None else os.path.join(save_dir, self.name)

    # -- Logger API ------------------------------------------------------------------------------

    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        if not self._active():
            return
        params = _fabric_logger._convert_params(params)
        params = _fabric_logger._flatten_dict(params, delimiter=self._sep)
        params = _fabric_logger._sanitize_callable_params(params)
        self.experiment.log_inputs(**{str(k): _plain(v) for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        if not self._active():
            return
        metrics = _fabric_logger._add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)
        numbers = {}
        for key, value in metrics.items():
            number = scalar(value)
            if number is None:
                from labbook.errors import InvalidValueError

                raise InvalidValueError(
                    f"LabbookLogger.log_metrics: {key!r} is {type(value).__name__} ({value!r:.60}), "
                    "not a number. Log text with logger.experiment.log_text()."
                )
            numbers[key] = number
        self.experiment.log_metrics(step=step, **numbers)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if not self._log_model or not self._active():
            return
        scores = {path: score for path, score in (getattr(checkpoint_callback, "best_k_models", None) or {}).items()}
        paths = [getattr(checkpoint_callback, "best_model_path", ""), *scores,
                 getattr(checkpoint_callback, "last_model_path", "")]
        monitor = getattr(checkpoint_callback, "monitor", None)
        best, last = getattr(checkpoint_callback, "best_model_path", ""), getattr(checkpoint_callback, "last_model_path", "")
        for path in dict.fromkeys(p for p in paths if p):
            if not os.path.isfile(path):
                continue
            stamp = os.path.getmtime(path)
            if self._logged_checkpoints.get(path) == stamp:
                continue
            metrics = {}
            score = scalar(scores.get(path))
            if monitor and score is not None:
                metrics[monitor] = score
            role = "best" if path == best else "last" if path == last else "top_k"
            copy_and_log_model(self.experiment, path, name=self._model_name, framework="lightning",
                               rel_path="checkpoints", metrics=metrics or None, labels={"checkpoint": role})
            self._logged_checkpoints[path] = stamp

    def finalize(self, status: str) -> None:
        if not self._end_on_finalize or not self._active() or self._run is None:
            return
        if status == "failed":
            self._run.log_failed(reason="Lightning", message="The Lightning trainer reported a failure")
        else:
            self._run.end()
        self._run = None


def _plain(value: Any) -> Any:
    number = scalar(value)
    if number is not None and not isinstance(value, (list, tuple, dict, str)):
        return number
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float, dict)):
        return value
    return str(value)


Callback = LabbookLogger  # traceml's name: traceml.integrations.pytorch_lightning.Callback

__all__ = ["Callback", "LabbookLogger"]
