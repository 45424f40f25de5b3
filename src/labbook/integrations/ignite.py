"""PyTorch Ignite: a logger for ``Engine`` events and a save handler for ``Checkpoint``.

::

    from ignite.engine import Events
    from ignite.handlers import Checkpoint
    from labbook.integrations.ignite import LabbookLogger, LabbookSaver

    logger = LabbookLogger()                      # the active run, else a new one
    logger.attach_output_handler(trainer, event_name=Events.ITERATION_COMPLETED, tag="training",
                                 output_transform=lambda loss: {"loss": loss})
    logger.attach_output_handler(evaluator, event_name=Events.EPOCH_COMPLETED, tag="validation",
                                 metric_names=["accuracy"], global_step_transform=global_step_from_engine(trainer))
    logger.attach_opt_params_handler(trainer, event_name=Events.ITERATION_STARTED, optimizer=optimizer)
    evaluator.add_event_handler(Events.COMPLETED, Checkpoint({"model": model}, LabbookSaver(logger.run)))

``LabbookLogger`` is ignite's own ``PolyaxonLogger`` writing to a labbook run, so its handlers behave
exactly as ignite documents them: ``OutputHandler`` logs ``<tag>/<name>`` metrics (from
``output_transform`` and/or ``metric_names``) at ``global_step_transform(engine, event)`` (the
event's counter by default), ``OptimizerParamsHandler`` logs ``<tag>/lr/group_<i>``. Any other
attribute is the run's (``logger.log_inputs(seed=0)``); ``logger.close()`` ends the run, as ignite's does.

The run: ``run=`` if given; else, when ``tracking.init`` arguments are given, a run started with
them; else the active run; else a new one from ``tracking.init()``.

``LabbookSaver(run)`` is a ``Checkpoint`` save handler: each checkpoint ignite saves is written with
``torch.save`` and logged as a new version of the checkpoint's base name (``model`` for
``Checkpoint({"model": model}, ...)``) under ``outputs/checkpoints/``. When ``Checkpoint`` drops a
file beyond ``n_saved``, the file leaves ``outputs/checkpoints/``; its version stays.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from labbook.integrations._common import init_arguments, log_saved_model, resolve_run
from labbook.media.optional import need

_polyaxon_logger = need("ignite.handlers.polyaxon_logger", "labbook.integrations.ignite")
_checkpoint = need("ignite.handlers.checkpoint", "labbook.integrations.ignite")

OutputHandler = _polyaxon_logger.OutputHandler
OptimizerParamsHandler = _polyaxon_logger.OptimizerParamsHandler


class LabbookLogger(_polyaxon_logger.PolyaxonLogger):
    """Ignite's ``PolyaxonLogger`` over a labbook run; see the module docstring."""

    def __init__(self, run: Any = None, **init: Any) -> None:
        # ignite's __init__ would import polyaxon: the run replaces its experiment
        self.experiment = resolve_run(run, init_arguments(**init))

    @property
    def run(self) -> Any:
        return self.experiment


class LabbookSaver(_checkpoint.BaseSaveHandler):
    """A ``Checkpoint`` save handler that logs each checkpoint as a model version."""

    def __init__(self, run: Any = None, *, framework: str = "torch", rel_path: str = "checkpoints") -> None:
        self.run = resolve_run(run)
        self.framework = framework
        self.rel_path = rel_path

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        import torch

        metadata = dict(metadata or {})
        name = str(metadata.get("basename") or Path(filename).stem)
        fields: dict[str, Any] = {}
        if metadata.get("score_name"):
            fields["metrics"] = {str(metadata["score_name"]): metadata.get("priority")}

        def save(folder: Path) -> Path:
            path = folder / filename
            torch.save(checkpoint, path)
            return path

        log_saved_model(self.run, save, name=name, framework=self.framework, rel_path=self.rel_path, **fields)

    def remove(self, filename: str) -> None:
        path = self.run.get_outputs_path(f"{self.rel_path}/{filename}", ensure_path=False)
        if os.path.isfile(path):
            os.remove(path)


Logger = LabbookLogger  # traceml's name: traceml.integrations.ignite.Logger

__all__ = ["LabbookLogger", "LabbookSaver", "Logger", "OptimizerParamsHandler", "OutputHandler"]
