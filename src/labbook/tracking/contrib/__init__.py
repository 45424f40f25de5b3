"""Polyaxon's integration import paths (``polyaxon.tracking.contrib.<x>``) as thin aliases.

``from labbook.tracking.contrib.keras import PolyaxonKerasCallback`` works as Polyaxon's examples
write it; each module re-exports the matching ``labbook.integrations`` module under Polyaxon's names.
"""
