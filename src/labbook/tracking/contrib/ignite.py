"""``polyaxon.tracking.contrib.ignite`` under labbook: change only the import.

::

    from labbook.tracking.contrib.ignite import PolyaxonLogger
    plx_logger = PolyaxonLogger()
    plx_logger.log_inputs(seed=seed, batch_size=batch_size)
    plx_logger.attach_output_handler(trainer, event_name=Events.ITERATION_COMPLETED, tag="training",
                                     output_transform=lambda loss: {"loss": loss})

``PolyaxonLogger(*args, **kwargs)`` takes Polyaxon's ``Run`` arguments (those of ``tracking.init``,
positionally or by name) or ``run=``; ``PolyaxonIgniteLogger`` and ``Logger`` are the same class.
Without arguments it logs to the active run (else a new one).
"""

from __future__ import annotations

from typing import Any

from labbook.integrations._common import polyaxon_init_arguments
from labbook.integrations.ignite import LabbookLogger


class PolyaxonLogger(LabbookLogger):
    """Ignite's logger on a labbook run, built from Polyaxon's ``Run`` arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        run = kwargs.pop("run", None)
        super().__init__(run, **polyaxon_init_arguments(*args, **kwargs))


PolyaxonIgniteLogger = Logger = PolyaxonLogger

__all__ = ["Logger", "PolyaxonIgniteLogger", "PolyaxonLogger"]
