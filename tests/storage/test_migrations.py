"""The migration chain builds exactly the schema the models describe."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, Table, func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SAWarning

from asyncorders.api.deps import Runtime
from asyncorders.clock import utcnow
from asyncorders.fulfilment.worker import Worker
from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import Database, connect
from asyncorders.storage.tables import Base, Platform, Reward
from tests.conftest import POSTGRES_ADMIN_URL, _admin
from tests.factories import line, make_tenant
from tests.fulfilment.helpers import drain, place

pytestmark = pytest.mark.anyio


def _differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "target_metadata": metadata,
        },
    )
    with warnings.catch_warnings():
        # SQLite's reflection cannot read expression indexes (the campaign
        # prefix); tests/storage/test_indexes.py checks that one by its plans.
        warnings.filterwarnings(
            "ignore",
            message="Skipped unsupported reflection of expression-based index",
            category=SAWarning,
        )
        warnings.filterwarnings(
            "ignore", message="autogenerate skipping metadata-specified expression"
        )
        return list(compare_metadata(context, metadata))


async def _diff(database: Database, metadata: MetaData = Base.metadata) -> list[Any]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_differences, metadata)


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        names: list[str] = await connection.run_sync(
            lambda sync: inspect(sync).get_table_names()
        )
    return set(names)


@pytest.fixture
async def fresh(backend_settings: Settings, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database of the backend under test, never migrated."""
    url = make_url(backend_settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        settings = Settings(data_dir=tmp_path, secret_key="test-secret")
        database = connect(settings)
        try:
            yield database
        finally:
            await database.dispose()
        return

    name = f"asyncorders_fresh_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    settings = Settings(
        data_dir=tmp_path,
        secret_key="test-secret",
        database_url=make_url(POSTGRES_ADMIN_URL)
        .set(database=name)
        .render_as_string(hide_password=False),
    )
    database = connect(settings)
    try:
        yield database
    finally:
        await database.dispose()
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert await _diff(db) == []


async def test_migrated_database_is_current(db: Database) -> None:
    assert await migrate.is_current(db)


async def test_fresh_database_is_not_current_until_upgraded(fresh: Database) -> None:
    assert not await migrate.is_current(fresh)
    assert await _tables(fresh) == set()

    await migrate.upgrade(fresh)

    assert await migrate.is_current(fresh)
    assert await _tables(fresh) == {*Base.metadata.tables, "alembic_version"}
    assert await _diff(fresh) == []


async def test_upgrading_twice_is_harmless(fresh: Database) -> None:
    await migrate.upgrade(fresh)
    async with fresh.sessions() as session:
        session.add(Platform(name="acme", created_at=utcnow()))
        await session.commit()

    await migrate.upgrade(fresh)

    assert await migrate.is_current(fresh)
    assert await _diff(fresh) == []
    async with fresh.sessions() as session:
        names = list(await session.scalars(select(Platform.name)))
    assert names == ["acme"]
    async with fresh.engine.connect() as connection:
        versions = await connection.scalar(
            select(func.count()).select_from(text("alembic_version"))
        )
    assert versions == 1


async def test_upgrading_the_test_database_again_is_harmless(db: Database) -> None:
    await migrate.upgrade(db)

    assert await migrate.is_current(db)
    assert await _diff(db) == []


async def test_the_comparison_sees_a_schema_that_differs(db: Database) -> None:
    # Guards the checks above against passing vacuously.
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    Table("not_migrated", changed, Column("id", String(8), primary_key=True))
    changed.tables["platforms"].append_column(Column("extra", String(10)))

    differences = await _diff(db, changed)

    kinds = {
        (entry[0], entry[1].name if entry[0] == "add_table" else entry[3].name)
        for entry in differences
        if isinstance(entry, tuple)
    }
    assert ("add_table", "not_migrated") in kinds
    assert ("add_column", "extra") in kinds


async def _rewards(database: Database) -> list[tuple[int, int, bytes, str]]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(
                Reward.line_item_id,
                Reward.position,
                Reward.credentials,
                Reward.fingerprint,
            ).order_by(Reward.line_item_id, Reward.position)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_issued_rewards_survive_a_round_trip_through_the_old_schema(
    fresh: Database, backend_settings: Settings
) -> None:
    # Outbox messages and refunds refer to the line items that the migration
    # rebuilds (SQLite batch mode): their foreign keys must hold throughout.
    await migrate.upgrade(fresh)
    runtime = Runtime(backend_settings, fresh, backend_settings.resolved_secret_key)
    tenant = await make_tenant(runtime, "acme")
    await place(
        fresh,
        runtime.secret,
        tenant,
        "o",
        [
            line("mail"),
            line("bad", utid="U999001"),
            line("x2", quantity=2, deliveryMethod="NONE"),
        ],
    )
    await drain(Worker(fresh, backend_settings))
    issued = await _rewards(fresh)

    await migrate.downgrade(fresh, "0004")
    await migrate.upgrade(fresh)

    # The old schema holds one reward per line: number 0 of each comes back.
    assert len(issued) == 3
    assert await _rewards(fresh) == [r for r in issued if r[1] == 0]
    assert await _diff(fresh) == []


async def test_an_upgrade_that_ends_with_a_broken_foreign_key_is_rolled_back(
    fresh: Database,
) -> None:
    if not fresh.is_sqlite:
        pytest.skip("PostgreSQL checks foreign keys itself, statement by statement")
    await migrate.upgrade(fresh, "0004")
    # An outbox message of a line item that does not exist, written as if by
    # a migration running with foreign keys off.
    async with fresh.engine.connect() as connection:
        await connection.run_sync(migrate._sqlite_foreign_keys, False)
        async with connection.begin():
            await connection.execute(
                text(
                    "INSERT INTO outbox_messages (line_item_id, channel, recipient,"
                    " subject, status, attempts, not_before, created_at)"
                    " VALUES (999, 'EMAIL', 'a@example.com', 's', 'PENDING', 0,"
                    " '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
                )
            )
        await connection.run_sync(migrate._sqlite_foreign_keys, True)

    with pytest.raises(RuntimeError, match="broke foreign keys"):
        await migrate.upgrade(fresh)

    async with fresh.engine.connect() as connection:
        revision = await connection.scalar(
            text("SELECT version_num FROM alembic_version")
        )
    assert revision == "0004"
    assert "rewards" not in await _tables(fresh)
