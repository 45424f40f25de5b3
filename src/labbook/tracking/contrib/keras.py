"""``polyaxon.tracking.contrib.keras`` under labbook: change only the import.

::

    from labbook.tracking.contrib.keras import PolyaxonCallback   # was: from polyaxon...
    model.fit(x, y, callbacks=[PolyaxonCallback()])

``PolyaxonCallback``, ``PolyaxonKerasCallback`` and ``Callback`` are all
``labbook.integrations.keras.LabbookCallback``, whose first arguments are Polyaxon's
(``run, metrics, log_model, save_weights_only, log_best_prefix, mode, monitor``).
"""

from labbook.integrations.keras import Callback, LabbookCallback

PolyaxonCallback = PolyaxonKerasCallback = LabbookCallback

__all__ = ["Callback", "PolyaxonCallback", "PolyaxonKerasCallback"]
