"""Alembic environment: runs on the connection labbook hands it (see catalog.migrate)."""

from alembic import context

from labbook.catalog.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through labbook.catalog.migrate
    raise RuntimeError("labbook's migrations run through labbook.catalog.migrate(), not the alembic CLI")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
