"""Moved to ``labbook.store.uri`` (the store owns location and format); this name stays."""

from labbook.store.uri import *  # noqa: F401,F403
