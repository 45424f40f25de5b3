"""Keeping the garbage collector's full passes off labbook's hot paths.

Importing a large library (SQLAlchemy, numpy, a framework) leaves tens of thousands of long-lived
objects that Python's cyclic garbage collector walks again at each full collection: a pause of
milliseconds inside whichever call happens to trigger it (a logging call in a training loop,
building the rows of a listing). ``freeze_imports()`` moves every object alive at that moment
into the collector's permanent generation (``gc.freeze()``), once per process and cause, after
the heavy imports: a logging process at its first run, a reading process once its catalog is open. Frozen
objects are still freed by reference counting; only cycles among them are never collected, as
for any module-level data.
"""

from __future__ import annotations

import gc

_done: set[str] = set()


def freeze_imports(after: str) -> None:
    """``gc.freeze()`` once per process after ``after`` (``"run"``, ``"catalog"``) loaded what
    it needs (see the module docstring)."""
    if after not in _done:
        _done.add(after)
        gc.freeze()
