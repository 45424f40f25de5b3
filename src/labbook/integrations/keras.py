"""Keras 3 (any backend): a callback that logs epochs, batches, the optimizer and the best model.

::

    from labbook import tracking
    from labbook.integrations.keras import LabbookCallback

    tracking.init(project="mnist")
    model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[LabbookCallback()])

What it logs, on the run given as ``run=`` (else the active run, else a new one from
``tracking.init()``):

- inputs at ``on_train_begin``: ``num_layers``, ``optimizer_name``, ``optimizer_lr``,
  ``optimizer_epsilon`` (when the optimizer has one) and ``optimizer`` (its whole config);
  the model summary as the text event ``model_summary``;
- every numeric entry of each epoch's logs as a metric at ``step=epoch`` (Keras' 0-based epoch
  index, so a resumed ``fit(initial_epoch=n)`` continues the same steps), or only ``metrics=``;
- ``learning_rate`` as a metric at the epoch's step, at the first epoch and whenever it changes
  (a schedule or ``ReduceLROnPlateau``), unless Keras already put it in the logs;
- with ``log_every_n_batches=n``, every n-th training batch's logs as metrics named
  ``batch/<name>`` at ``step = epoch * steps_per_epoch + batch + 1`` (the global batch count;
  when Keras does not know ``steps_per_epoch``, the number of batches this callback has seen).
  Batch series have their own names, so their steps never collide with the epoch series;
- when ``monitor`` improves: the metrics ``<log_best_prefix>_<monitor>`` and
  ``<log_best_prefix>_epoch``, the same two values as outputs, and (``log_model=True``) the model
  saved with ``model.save`` (``.keras``) or ``save_weights`` (``.weights.h5``) and logged with
  ``log_model`` as a new version of ``model_name``. A resumed run starts from the best recorded in
  its outputs (or, failing that, the monitored metric's summary), so a worse epoch after a restart
  never replaces the best model;
- ``use_store_path`` is accepted for Polyaxon code and changes nothing; ``model_ext`` overrides the
  saved file's extension;
- at the end of training, the model once if ``monitor`` was never reported (not even before a
  resume), so a run without validation data still gets its model.
"""

from __future__ import annotations

import math
import operator
from pathlib import Path
from typing import Any

from labbook.errors import InvalidValueError
from labbook.integrations._common import changed, log_saved_model, resolve_run, scalar, split_logs
from labbook.media.optional import need

keras = need("keras", "labbook.integrations.keras")


class LabbookCallback(keras.callbacks.Callback):
    """Log a Keras ``fit`` to a labbook run; see the module docstring for what and at which step."""

    def __init__(
        self,
        run: Any = None,
        metrics: list[str] | None = None,
        log_model: bool = True,
        save_weights_only: bool = False,
        log_best_prefix: str = "best",
        mode: str = "auto",
        monitor: str = "val_loss",
        use_store_path: bool = False,
        model_ext: str = "",
        *,
        log_every_n_batches: int | None = None,
        model_name: str = "model",
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise InvalidValueError(f"LabbookCallback(mode={mode!r}): use 'auto', 'min' or 'max'.")
        if log_every_n_batches is not None and (
            isinstance(log_every_n_batches, bool) or not isinstance(log_every_n_batches, int)
            or log_every_n_batches < 1
        ):
            raise InvalidValueError(
                f"LabbookCallback(log_every_n_batches={log_every_n_batches!r}): pass a positive int, "
                "or None to log epochs only."
            )
        self.run = resolve_run(run)
        self.metrics = list(metrics) if metrics else None
        self.log_model = log_model
        self.save_weights_only = save_weights_only
        self.log_best_prefix = log_best_prefix
        self.monitor = monitor
        self.model_name = model_name
        self.log_every_n_batches = log_every_n_batches
        self._ext = model_ext or (".weights.h5" if save_weights_only else ".keras")
        if mode == "max" or (mode == "auto" and ("acc" in monitor or monitor.startswith("fmeasure"))):
            self.monitor_op, self.best = operator.gt, float("-inf")
        else:
            self.monitor_op, self.best = operator.lt, float("inf")
        previous = self._previous_best()
        if previous is not None:
            self.best = previous
        self._saved = False
        self._summary_logged = False
        self._last_lr: float | None = None
        self._epoch = 0
        self._batches_seen = 0

    # -- resuming --------------------------------------------------------------------------

    def _previous_best(self) -> float | None:
        """The best value a resumed run already recorded: its output, else the metric summary."""
        outputs = getattr(self.run, "outputs", None) or {}
        recorded = scalar(outputs.get(self._best_key))
        if recorded is not None:
            return float(recorded)
        uuid = getattr(self.run, "uuid", None)
        if not uuid:
            return None
        self.run.flush()
        import labbook

        summary = labbook.get_run(uuid).summaries.get(self.monitor) or {}
        value = summary.get("max" if self.monitor_op is operator.gt else "min")
        return None if value is None else float(value)

    @property
    def _best_key(self) -> str:
        return f"{self.log_best_prefix or 'best'}_{self.monitor}"

    # -- Keras hooks ---------------------------------------------------------------------

    def on_train_begin(self, logs: dict | None = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        inputs: dict[str, Any] = {"num_layers": len(self.model.layers)}
        if optimizer is not None:
            inputs["optimizer_name"] = type(optimizer).__name__
            lr = self._learning_rate()
            if lr is not None:
                inputs["optimizer_lr"] = lr
            epsilon = scalar(getattr(optimizer, "epsilon", None))
            if epsilon is not None:
                inputs["optimizer_epsilon"] = epsilon
            inputs["optimizer"] = _json_ready(optimizer.get_config())
        self.run.log_inputs(**inputs)
        self._log_summary()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches_seen += 1
        every = self.log_every_n_batches
        if not every or not logs:
            return
        steps = self.params.get("steps") if isinstance(self.params, dict) else None
        step = self._epoch * steps + batch + 1 if steps else self._batches_seen
        if step % every:
            return
        numbers, _ = split_logs(self._chosen(logs))
        self.run.log_metrics(step=step, **{f"batch/{k}": v for k, v in numbers.items()})

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        numbers, texts = split_logs(self._chosen(logs))
        lr = self._learning_rate()
        if lr is not None and "learning_rate" not in logs and changed(self._last_lr, lr):
            numbers["learning_rate"] = lr
        if lr is not None:
            self._last_lr = lr
        current = scalar(logs.get(self.monitor))
        improved = current is not None and self.monitor_op(current, self.best)
        if improved:
            self.best = float(current)
            if self.log_best_prefix:
                numbers[self._best_key] = current
                numbers[f"{self.log_best_prefix}_epoch"] = epoch
                self.run.log_outputs(**{self._best_key: float(current), f"{self.log_best_prefix}_epoch": epoch})
        if numbers:
            self.run.log_metrics(step=epoch, **numbers)
        for name, text in texts.items():
            self.run.log_text(name, text, step=epoch)
        if not self._summary_logged:
            self._log_summary()
        if improved and self.log_model:
            self._save_model(epoch, {self.monitor: float(current)})

    def on_train_end(self, logs: dict | None = None) -> None:
        # Only when the monitored metric never showed up, in this fit or before a resume: otherwise
        # the best model is already a version and this one is no better.
        if self.log_model and not self._saved and math.isinf(self.best):
            self._save_model(self._epoch, None)

    # -- helpers ------------------------------------------------------------------------------

    def _chosen(self, logs: dict) -> dict:
        if self.metrics is None:
            return logs
        return {k: v for k, v in logs.items() if k in self.metrics}

    def _learning_rate(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            return None
        try:
            value = optimizer.learning_rate
        except (AttributeError, TypeError, ValueError):
            return None
        number = scalar(value)
        if number is None:
            try:
                number = scalar(keras.ops.convert_to_numpy(value))
            except Exception:  # noqa: BLE001 - an exotic schedule: the optimizer config still has it
                return None
        return None if number is None else float(number)

    def _log_summary(self) -> None:
        lines: list[str] = []
        try:
            self.model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
        except ValueError:  # not built yet (no input shape): retried after the first epoch
            return
        self.run.log_text("model_summary", "\n".join(lines))
        self._summary_logged = True

    def _save_model(self, epoch: int, metrics: dict | None) -> None:
        def save(folder: Path) -> Path:
            path = folder / f"{self.model_name}{self._ext}"
            if self.save_weights_only:
                self.model.save_weights(str(path), overwrite=True)
            else:
                self.model.save(str(path), overwrite=True)
            return path

        fields: dict[str, Any] = {"metrics": {**(metrics or {}), "epoch": epoch}}
        log_saved_model(self.run, save, name=self.model_name, framework="keras", **fields)
        self._saved = True


def _json_ready(config: dict) -> dict:
    """An optimizer config with numpy and backend scalars turned into plain numbers."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out[key] = _json_ready(value)
        elif value is None or isinstance(value, (str, bool, int, float, list)):
            out[key] = value
        else:
            number = scalar(value)
            out[key] = number if number is not None else repr(value)
    return out


Callback = LabbookCallback  # Polyaxon/traceml's name: traceml.integrations.keras.Callback

__all__ = ["Callback", "LabbookCallback"]
