"""Moved to ``labbook.catalog.artifacts`` (all SQL lives in the catalog); this name stays."""

from labbook.catalog.artifacts import *  # noqa: F401,F403
