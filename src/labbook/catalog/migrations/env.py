"""Alembic environment: runs on the connection labbook hands it (see ``Catalog.upgrade``)."""

from alembic import context

from labbook.catalog.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through Catalog.upgrade
    from labbook.errors import CatalogError

    raise CatalogError("labbook's migrations run on a catalog labbook opened, not from the alembic CLI: "
                       "run 'labbook db upgrade'.")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
