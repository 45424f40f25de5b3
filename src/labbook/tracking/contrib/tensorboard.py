"""Polyaxon's ``polyaxon.tracking.contrib.tensorboard``: see ``labbook.integrations.tensorboard``."""

from labbook.integrations.tensorboard import Logger, watch

PolyaxonTensorboardLogger = Logger

__all__ = ["Logger", "PolyaxonTensorboardLogger", "watch"]
