"""Hugging Face Transformers: a ``TrainerCallback`` that logs a ``Trainer`` run.

::

    from transformers import Trainer
    from labbook.integrations.transformers import LabbookCallback

    trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[LabbookCallback()])
    trainer.train()

The class itself works too (``callbacks=[LabbookCallback]``), as Polyaxon's docs write it.
Everything happens on the world's process zero only; other processes log nothing.

- The run: ``run=`` if given, else the active run, else a new one from ``tracking.init()``,
  resolved when training begins.
- At ``on_train_begin``: the ``TrainingArguments`` (``args.to_sanitized_dict()``) as inputs, the
  model's config as the input ``model_config`` (a nested dict) and ``model_class``.
- At ``on_log``: every numeric value as a metric at ``state.global_step``; any other value as a
  text event of the same name at that step (nothing is dropped).
- At ``on_train_end`` with ``log_model=True``: the final model (``save_pretrained``, plus the
  tokenizer or processor the trainer holds) logged as a new version of ``model_name``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from labbook.integrations._common import log_saved_model, resolve_run, split_logs
from labbook.media.optional import need

_callbacks = need("transformers.trainer_callback", "labbook.integrations.transformers")


class LabbookCallback(_callbacks.TrainerCallback):
    """Log a ``transformers.Trainer`` run to labbook; see the module docstring."""

    def __init__(self, run: Any = None, *, log_model: bool = False, model_name: str = "model") -> None:
        super().__init__()
        self.run = run
        self.log_model = log_model
        self.model_name = model_name
        self._set_up = False

    def setup(self, args: Any, state: Any, model: Any = None, **kwargs: Any) -> None:
        """Resolve the run and log the arguments and model config (process zero only)."""
        self._set_up = True
        if not state.is_world_process_zero:
            return
        self.run = resolve_run(self.run)
        inputs = _json_ready(args.to_sanitized_dict())
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_json_string"):
            inputs["model_config"] = orjson.loads(config.to_json_string(use_diff=False))
        if model is not None:
            inputs["model_class"] = type(model).__name__
        self.run.log_inputs(**inputs)

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not self._set_up:
            self.setup(args, state, model)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, model: Any = None,
               **kwargs: Any) -> None:
        if not self._set_up:
            self.setup(args, state, model)
        if not state.is_world_process_zero or not logs:
            return
        numbers, texts = split_logs(logs)
        if numbers:
            self.run.log_metrics(step=state.global_step, **numbers)
        for name, text in texts.items():
            self.run.log_text(name, text, step=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if not self.log_model or not state.is_world_process_zero or model is None:
            return
        processor = kwargs.get("processing_class") or kwargs.get("tokenizer")

        def save(folder: Path) -> Path:
            target = folder / self.model_name
            model.save_pretrained(str(target))
            if processor is not None and hasattr(processor, "save_pretrained"):
                processor.save_pretrained(str(target))
            return target

        log_saved_model(self.run, save, name=self.model_name, framework="transformers",
                        metrics={"global_step": state.global_step})


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON data: anything else (a dtype, an enum) as its text."""
    return orjson.loads(orjson.dumps(values, default=str, option=orjson.OPT_SERIALIZE_NUMPY
                                     | orjson.OPT_NON_STR_KEYS))


Callback = LabbookCallback  # traceml's name: traceml.integrations.hugging_face.Callback

__all__ = ["Callback", "LabbookCallback"]
