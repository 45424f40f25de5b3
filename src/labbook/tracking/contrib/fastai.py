"""``polyaxon.tracking.contrib.fastai`` under labbook: change only the import.

::

    from labbook.tracking.contrib.fastai import PolyaxonCallback
    learn.fit(2, cbs=[PolyaxonCallback()])

``PolyaxonCallback(log_model=False, run=None)``, ``PolyaxonFastaiCallback`` and ``Callback`` are
``labbook.integrations.fastai.LabbookCallback``.
"""

from labbook.integrations.fastai import Callback, LabbookCallback

PolyaxonCallback = PolyaxonFastaiCallback = LabbookCallback

__all__ = ["Callback", "PolyaxonCallback", "PolyaxonFastaiCallback"]
