"""Moved to ``labbook.store.policy`` (the store owns location and format); this name stays."""

from labbook.store.policy import *  # noqa: F401,F403
