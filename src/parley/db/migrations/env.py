"""Alembic environment: Parley always hands Alembic an open connection (see migrate.py)."""

from __future__ import annotations

from alembic import context

from parley.db.tables import metadata, outside_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `parley migrate`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
    render_as_batch=connection.dialect.name == "sqlite",
    include_object=lambda _object, name, type_, _reflected, _other: (
        not outside_metadata(name, type_)
    ),
)
with context.begin_transaction():
    context.run_migrations()
