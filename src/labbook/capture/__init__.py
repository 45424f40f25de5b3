"""What a run records about where it ran: code version, environment (and later resources, logs)."""
