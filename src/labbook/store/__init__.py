"""Where bytes live: the run folder layout, safe names, paths and hashing."""
