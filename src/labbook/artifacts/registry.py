"""Moved to ``labbook.store.blobs`` (the store owns location and format); this name stays."""

from labbook.store.blobs import *  # noqa: F401,F403
