"""Versioned artifacts: kinds, versions, tags, store:// URIs, producers and lineage."""
