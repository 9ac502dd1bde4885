"""Alembic environment: runs on the connection the service hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from asyncorders.storage.tables import Base

# One fixed number for the advisory lock, so that API processes starting together
# on PostgreSQL apply the chain once, one after the other.
MIGRATION_LOCK = 0x6173796E63


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `asyncorders db upgrade`")
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()


run_migrations_online()
