"""``polyaxon.tracking.contrib.lightgbm``: ``from labbook.tracking.contrib.lightgbm import polyaxon_callback``.

``callback``/``polyaxon_callback`` is ``labbook.integrations.lightgbm.callback``.
"""

from labbook.integrations.lightgbm import callback

polyaxon_callback = callback

__all__ = ["callback", "polyaxon_callback"]
