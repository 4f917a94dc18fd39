"""Alembic environment: runs on the connection handed over by `sereno.storage.migrate`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import sereno.storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `sereno migrate`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
