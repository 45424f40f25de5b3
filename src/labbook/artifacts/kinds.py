"""Moved to ``labbook.store.kinds`` (the store owns location and format); this name stays."""

from labbook.store.kinds import *  # noqa: F401,F403
