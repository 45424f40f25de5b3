"""The run writer: events, assets and metadata written off the caller's thread."""
