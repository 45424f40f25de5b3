"""``polyaxon.tracking.contrib.xgboost``: ``from labbook.tracking.contrib.xgboost import polyaxon_callback``.

``callback``/``polyaxon_callback`` and ``Callback``/``PolyaxonCallback`` are
``labbook.integrations.xgboost``'s ``callback`` and ``Callback``.
"""

from labbook.integrations.xgboost import Callback, callback

polyaxon_callback = callback
PolyaxonCallback = Callback

__all__ = ["Callback", "PolyaxonCallback", "callback", "polyaxon_callback"]
