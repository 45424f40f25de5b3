"""``polyaxon.tracking.contrib.hugging_face`` under labbook: change only the import.

::

    from labbook.tracking.contrib.hugging_face import PolyaxonCallback
    trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[PolyaxonCallback])

``PolyaxonCallback(run=None)`` is ``labbook.integrations.transformers.LabbookCallback``.
"""

from labbook.integrations.transformers import Callback, LabbookCallback

PolyaxonCallback = LabbookCallback

__all__ = ["Callback", "PolyaxonCallback"]
