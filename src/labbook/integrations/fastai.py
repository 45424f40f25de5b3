"""fastai (v2): a callback that logs a ``Learner``'s batches, epochs and saved models.

::

    from fastai.callback.tracker import SaveModelCallback
    from labbook.integrations.fastai import LabbookCallback

    learn.fit(5, cbs=[LabbookCallback(log_model=True), SaveModelCallback(monitor="valid_loss")])

The run: ``run=`` if given, else the active run, else a new one from ``tracking.init()``; it is
``callback.labbook_run`` (fastai's callbacks use ``run`` for their on/off switch).

- ``before_fit``: inputs ``n_epoch``, ``model_class``, ``batch_size``, ``loss_func`` and
  ``opt_func``; ``repr(model)`` as the text event ``model_summary``.
- ``after_batch`` (training batches): ``smooth_loss``, ``raw_loss`` and every optimizer
  hyperparameter as ``hypers_<name>`` (``hypers_lr``, ``hypers_mom``...; of the last parameter group,
  as Polyaxon did) at ``step = learn.train_iter``, the global count of training batches (1, 2, ...).
- ``after_epoch``: every numeric column of fastai's recorder (``train_loss``, ``valid_loss`` and
  the metrics; not ``epoch`` or ``time``) at ``step = epoch`` (0-based). Batch and epoch series have
  different names, so their steps never collide.
- ``log_model=True``: with a ``SaveModelCallback``, each file it writes (the new best, or every
  epoch's with ``every_epoch=True``) becomes a new version of ``model_name``; without one, the model's
  weights (``fastai.learner.save_model``) are logged once, after fit. ``learn.load`` or
  ``fastai.learner.load_model`` read a downloaded version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labbook.integrations._common import copy_and_log_model, log_saved_model, resolve_run, scalar
from labbook.media.optional import need

_core = need("fastai.callback.core", "labbook.integrations.fastai")
_learner = need("fastai.learner", "labbook.integrations.fastai")
_tracker = need("fastai.callback.tracker", "labbook.integrations.fastai")


class LabbookCallback(_core.Callback):
    """Log a fastai ``Learner`` to labbook; see the module docstring."""

    order = _tracker.SaveModelCallback.order + 1  # after the recorder and SaveModelCallback
    remove_on_fetch = True

    def __init__(self, log_model: bool = False, run: Any = None, *, model_name: str = "model") -> None:
        self.log_model = log_model
        self.labbook_run = resolve_run(run)
        self.model_name = model_name
        self._saved: dict[Path, float] = {}

    def before_fit(self) -> None:
        learn = self.learn
        inputs: dict[str, Any] = {"n_epoch": learn.n_epoch, "model_class": type(learn.model).__name__}
        batch_size = getattr(getattr(learn, "dls", None), "bs", None)
        if batch_size is not None:
            inputs["batch_size"] = batch_size
        for name in ("loss_func", "opt_func"):
            value = getattr(learn, name, None)
            if value is not None:
                inputs[name] = getattr(value, "__name__", None) or type(value).__name__
        self.labbook_run.log_inputs(**inputs)
        self.labbook_run.log_text("model_summary", repr(learn.model))
        self._saved = {path: path.stat().st_mtime for path in self._save_model_files() if path.is_file()}

    def after_batch(self) -> None:
        if not self.training:
            return
        learn = self.learn
        metrics: dict[str, Any] = {}
        for name, value in (("smooth_loss", getattr(learn, "smooth_loss", None)),
                            ("raw_loss", getattr(learn, "loss", None))):
            number = scalar(value)
            if number is not None:
                metrics[name] = number
        for group in learn.opt.hypers:
            for key, value in group.items():
                number = scalar(value)
                if number is not None:
                    metrics[f"hypers_{key}"] = number
        self.labbook_run.log_metrics(step=learn.train_iter, **metrics)

    def after_epoch(self) -> None:
        recorder = self.learn.recorder
        values = {}
        for name, value in zip(recorder.metric_names, recorder.log):
            number = scalar(value)
            if name not in ("epoch", "time") and number is not None:
                values[name] = number
        if values:
            self.labbook_run.log_metrics(step=self.learn.epoch, **values)
        if self.log_model:
            for path in self._save_model_files():
                if path.is_file() and self._saved.get(path) != path.stat().st_mtime:
                    copy_and_log_model(self.labbook_run, path, name=self.model_name, framework="fastai",
                                       rel_path="model", metrics={**values, "epoch": self.learn.epoch})
                    self._saved[path] = path.stat().st_mtime

    def after_fit(self) -> None:
        if not self.log_model or hasattr(self.learn, "save_model"):
            return
        model = self.learn.model

        def save(folder: Path) -> Path:
            path = folder / f"{self.model_name}.pth"
            _learner.save_model(path, model, None, with_opt=False)
            return path

        log_saved_model(self.labbook_run, save, name=self.model_name, framework="fastai")

    def _save_model_files(self) -> list[Path]:
        """The files the learner's ``SaveModelCallback`` writes (none without one)."""
        saver = getattr(self.learn, "save_model", None)
        if saver is None:
            return []
        folder = Path(self.learn.path) / self.learn.model_dir
        if getattr(saver, "every_epoch", False):
            return [folder / f"{saver.fname}_{self.learn.epoch}.pth"]
        return [folder / f"{saver.fname}.pth"]


Callback = LabbookCallback  # traceml's name: traceml.integrations.fastai.Callback

__all__ = ["Callback", "LabbookCallback"]
