"""Alembic environment: runs on the connection handed over by service.store.migrate (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from service.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - service.store.migrate always passes one
    raise RuntimeError("run migrations through `python -m service db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
