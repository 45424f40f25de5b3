"""``polyaxon.tracking.contrib.pytorch_lightning`` under labbook: change only the import.

::

    from labbook.tracking.contrib.pytorch_lightning import PolyaxonCallback
    trainer = pl.Trainer(max_epochs=2, logger=PolyaxonCallback())

``PolyaxonCallback`` takes Polyaxon's arguments (every ``tracking.init`` argument, positionally or
by name, then ``end_on_finalize`` and ``prefix``) and is a
``labbook.integrations.lightning.LabbookLogger``. ``PolyaxonLogger`` and ``Callback`` name the
same class.
"""

from __future__ import annotations

from typing import Any

from labbook.integrations._common import polyaxon_init_arguments
from labbook.integrations.lightning import LabbookLogger


class PolyaxonCallback(LabbookLogger):
    """Polyaxon's Lightning logger: ``tracking.init`` arguments, ``end_on_finalize``, ``prefix``."""

    def __init__(self, *args: Any, end_on_finalize: bool = False, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(prefix=prefix, end_on_finalize=end_on_finalize,
                         **polyaxon_init_arguments(*args, **kwargs))


PolyaxonLogger = Callback = PolyaxonCallback

__all__ = ["Callback", "PolyaxonCallback", "PolyaxonLogger"]
