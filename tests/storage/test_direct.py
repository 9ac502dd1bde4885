"""Statements sent on the driver's connection read and write exactly what
SQLAlchemy's own execution would, and fail the way it fails."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from asyncorders.storage import direct
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import Platform, ServiceFlag

pytestmark = pytest.mark.anyio

_PLATFORMS = Platform.metadata.tables[Platform.__tablename__]
_FLAGS = ServiceFlag.metadata.tables[ServiceFlag.__tablename__]
_INSERT_PLATFORMS = insert(_PLATFORMS)
_INSERT_FLAGS = insert(_FLAGS)
_FLAG_NAMED = select(_FLAGS).where(_FLAGS.c.name == bindparam("name"))
_PLATFORM_NAMED = select(
    _PLATFORMS.c.id,
    _PLATFORMS.c.name,
    _PLATFORMS.c.created_at,
    _PLATFORMS.c.rate_limit_per_second,
    _PLATFORMS.c.rate_limit_burst,
).where(_PLATFORMS.c.name == bindparam("name"))

AT = datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)


def platform(name: str, **changes: Any) -> dict[str, Any]:
    row = {
        "name": name,
        "created_at": AT,
        "rate_limit_per_second": 2.5,
        "rate_limit_burst": 7,
    }
    return {**row, **changes}


async def names_of(db: Database) -> list[str]:
    async with db.engine.connect() as connection:
        found = await connection.execute(select(_PLATFORMS.c.name))
        return sorted(found.scalars())


async def test_rows_written_and_read_here_match_sqlalchemys_own(
    db: Database,
) -> None:
    async with direct.transaction(db.engine) as statements:
        await statements.execute_many(_INSERT_PLATFORMS, [platform("a"), platform("b")])
    async with db.engine.begin() as connection:
        await connection.execute(_INSERT_PLATFORMS, [platform("c")])

    for name in ("a", "c"):
        async with db.engine.connect() as connection:
            expected = (await connection.execute(_PLATFORM_NAMED, {"name": name})).one()
        async with direct.reading(db.reader) as statements:
            (found,) = await statements.fetch(_PLATFORM_NAMED, {"name": name})
        assert found == tuple(expected)
        assert found[2] == AT
        assert found[2].tzinfo is not None  # aware UTC, as written
        assert found[3:] == (2.5, 7)


async def test_json_values_go_in_and_come_out_as_python_values(db: Database) -> None:
    value = {"on": True, "reason": "déjà vu", "n": [1, 2.5, None]}

    async with direct.transaction(db.engine) as statements:
        await statements.execute_many(
            _INSERT_FLAGS, [{"name": "maintenance", "value": value, "updated_at": AT}]
        )
        (row,) = await statements.fetch(_FLAG_NAMED, {"name": "maintenance"})

    assert row == ("maintenance", value, AT)
    async with db.engine.connect() as connection:
        stored = await connection.scalar(select(_FLAGS.c.value))
    assert stored == value


async def insert_then(
    db: Database, rows: list[dict[str, Any]], error: Exception
) -> None:
    """Insert `rows` one by one in a transaction, then raise `error` in it."""
    async with direct.transaction(db.engine) as statements:
        for row in rows:
            await statements.execute_many(_INSERT_PLATFORMS, [row])
        raise error


async def test_a_block_that_raises_writes_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        await insert_then(db, [platform("gone")], RuntimeError("failed half-way"))

    assert await names_of(db) == []
    async with direct.transaction(db.engine) as statements:  # the connection is fine
        await statements.execute_many(_INSERT_PLATFORMS, [platform("kept")])
    assert await names_of(db) == ["kept"]


async def test_a_refused_statement_raises_sqlalchemys_error_and_rolls_back(
    db: Database,
) -> None:
    with pytest.raises(IntegrityError) as raised:
        await insert_then(db, [platform("first")] * 2, RuntimeError("not reached"))

    assert not raised.value.connection_invalidated
    assert "first" not in str(raised.value)  # parameters are never shown
    assert await names_of(db) == []


async def test_a_reading_connection_commits_each_statement_on_its_own(
    db: Database,
) -> None:
    async with direct.transaction(db.engine) as statements:
        await statements.execute_many(_INSERT_PLATFORMS, [platform("seen")])

    async with direct.reading(db.reader) as statements:
        rows = await statements.fetch(_PLATFORM_NAMED, {"name": "seen"})
        async with db.engine.begin() as connection:  # not blocked by the reader
            await connection.execute(_INSERT_PLATFORMS, [platform("later")])
        later = await statements.fetch(_PLATFORM_NAMED, {"name": "later"})

    assert [row[1] for row in rows + later] == ["seen", "later"]


async def test_a_transaction_the_driver_could_not_end_takes_its_connection_away(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: Any) -> None:
        raise OSError("the rollback never reached the database")

    for driver in (direct._Asyncpg, direct._Sqlite):
        monkeypatch.setattr(driver, "rollback", refuse)
    with pytest.raises(RuntimeError):
        await insert_then(db, [platform("stuck")], RuntimeError("the batch failed"))
    monkeypatch.undo()

    # The connection still in its transaction was closed, not pooled: the next
    # one starts clean, and the row was never committed.
    async with direct.transaction(db.engine) as statements:
        await statements.execute_many(_INSERT_PLATFORMS, [platform("fresh")])
    assert await names_of(db) == ["fresh"]


async def test_a_cancelled_batch_writes_nothing_and_leaves_no_transaction_behind(
    db: Database,
) -> None:
    inserted = asyncio.Event()

    async def batch() -> None:
        async with direct.transaction(db.engine) as statements:
            await statements.execute_many(_INSERT_PLATFORMS, [platform("cut")])
            inserted.set()
            await asyncio.sleep(60)

    task = asyncio.create_task(batch())
    await inserted.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    async with direct.transaction(db.engine) as statements:  # a clean connection
        await statements.execute_many(_INSERT_PLATFORMS, [platform("next")])
    assert await names_of(db) == ["next"]


async def test_a_connection_lost_mid_transaction_is_invalidated_and_replaced(
    db: Database,
) -> None:
    if db.is_sqlite:
        pytest.skip("a PostgreSQL server ends the connection")
    with pytest.raises(DBAPIError) as raised:
        async with direct.transaction(db.engine) as statements:
            await statements.fetch(
                select(func.pg_terminate_backend(func.pg_backend_pid())), {}
            )

    assert raised.value.connection_invalidated
    async with direct.transaction(db.engine) as statements:
        await statements.execute_many(_INSERT_PLATFORMS, [platform("after")])
    assert await names_of(db) == ["after"]


async def test_the_same_statement_is_compiled_once(db: Database) -> None:
    dialect = db.engine.dialect

    first = direct.compiled(_PLATFORM_NAMED, dialect)

    assert direct.compiled(_PLATFORM_NAMED, dialect) is first
    assert first.names == ("name",)


async def test_statements_that_need_sqlalchemys_execution_are_refused(
    db: Database,
) -> None:
    dialect = db.engine.dialect
    expanding = select(_PLATFORMS.c.id).where(
        _PLATFORMS.c.name.in_(bindparam("names", expanding=True))
    )
    with pytest.raises(ValueError, match="expanding IN"):
        direct.compiled(expanding, dialect)

    defaulted = Table(
        "defaulted",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("n", Integer, default=lambda: 1),
    )
    with pytest.raises(ValueError, match="defaults"):
        direct.compiled(insert(defaulted), dialect, ("id",))


async def test_a_slow_reader_does_not_hold_the_writer(db: Database) -> None:
    """Statements of the two kinds run side by side, as through SQLAlchemy."""
    async with (
        direct.reading(db.reader) as reader,
        direct.transaction(db.engine) as writer,
    ):
        await writer.execute_many(
            _INSERT_PLATFORMS,
            [platform(f"p{n}", created_at=AT + timedelta(seconds=n)) for n in range(3)],
        )
        done = await asyncio.wait_for(
            reader.fetch(_PLATFORM_NAMED, {"name": "p0"}), timeout=5
        )
    assert done == []  # not committed when it read
    assert await names_of(db) == ["p0", "p1", "p2"]
