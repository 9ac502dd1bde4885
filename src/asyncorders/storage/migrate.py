"""Apply the Alembic migration chain; the service does this on every start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from asyncorders.storage.engine import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to the newest revision (safe to run from many processes)."""
    async with _migrating(database) as connection:
        await connection.run_sync(_upgrade, revision)


async def downgrade(database: Database, revision: str) -> None:
    """Take the schema back to `revision` (an operator's and a test's tool)."""
    async with _migrating(database) as connection:
        await connection.run_sync(_downgrade, revision)


@asynccontextmanager
async def _migrating(database: Database) -> AsyncIterator[AsyncConnection]:
    """One transaction for the whole chain.

    On SQLite, batch mode rebuilds a table to alter it: copy, drop, rename.
    Dropping a table other rows refer to breaks their foreign keys for a
    moment, so foreign keys are off while migrating (they can only be switched
    outside a transaction) and checked in full before the commit, when the
    chain changed anything (the check reads every row that has a foreign key).
    """
    async with database.engine.connect() as connection:
        if not database.is_sqlite:
            async with connection.begin():
                yield connection
            return
        await connection.run_sync(_sqlite_foreign_keys, False)
        try:
            async with connection.begin():
                before = await connection.run_sync(_revision)
                yield connection
                if await connection.run_sync(_revision) != before:
                    await connection.run_sync(_check_foreign_keys)
        finally:
            await connection.run_sync(_sqlite_foreign_keys, True)


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def _sqlite_foreign_keys(connection: Connection, enabled: bool) -> None:
    # On the driver's connection: SQLAlchemy would begin a transaction first.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")


async def is_current(database: Database) -> bool:
    """Whether the database already has every migration applied."""
    async with database.engine.connect() as connection:
        return await connection.run_sync(_is_current)


def _is_current(connection: Connection) -> bool:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return _revision(connection) == head


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
