"""Moved to ``labbook.store.hashing`` (the store owns location and format); this name stays."""

from labbook.store.hashing import *  # noqa: F401,F403
