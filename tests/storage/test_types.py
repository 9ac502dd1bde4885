"""`Money` and `UtcDateTime` behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    func,
    insert,
    select,
)
from sqlalchemy.exc import StatementError

from asyncorders.storage.engine import Database
from asyncorders.storage.types import Money, UtcDateTime

pytestmark = pytest.mark.anyio

metadata = MetaData()
probe = Table(
    "type_probe",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", Money()),
    Column("at", UtcDateTime()),
)


@pytest.fixture
async def table(db: Database) -> AsyncIterator[Database]:
    """The database with a scratch table of both types, dropped afterwards."""
    async with db.engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
        await connection.run_sync(metadata.create_all)
    try:
        yield db
    finally:
        async with db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)


async def _store_amounts(db: Database, amounts: Sequence[Decimal | None]) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(insert(probe), [{"amount": a} for a in amounts])


async def _amounts(db: Database) -> list[Decimal | None]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(select(probe.c.amount).order_by(probe.c.id))
        return list(rows.scalars())


async def _store_moments(db: Database, moments: Sequence[datetime | None]) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(insert(probe), [{"at": m} for m in moments])


async def _moments(db: Database) -> list[datetime | None]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(select(probe.c.at).order_by(probe.c.id))
        return list(rows.scalars())


# ---- Money ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0.10",
        "0.01",
        "0.00",
        "12345678901.23",
        "9999999999999.99",
        "9999999999999999.99",
        "1.00",
        "42.50",
    ],
)
async def test_money_round_trips_exact_decimals(table: Database, text: str) -> None:
    await _store_amounts(table, [Decimal(text)])

    (value,) = await _amounts(table)

    assert isinstance(value, Decimal)
    assert value == Decimal(text)
    assert str(value) == text


async def test_money_reads_back_with_two_places(table: Database) -> None:
    await _store_amounts(table, [Decimal("5"), Decimal("0.1"), Decimal("7.5")])

    values = await _amounts(table)

    assert [str(v) for v in values] == ["5.00", "0.10", "7.50"]


async def test_money_keeps_null(table: Database) -> None:
    await _store_amounts(table, [None])

    assert await _amounts(table) == [None]


async def test_many_tenths_sum_exactly(table: Database) -> None:
    await _store_amounts(table, [Decimal("0.10")] * 1000)

    async with table.engine.connect() as connection:
        total = await connection.scalar(select(func.sum(probe.c.amount)))

    assert isinstance(total, Decimal)
    assert total == Decimal("100.00")


async def test_sum_of_mixed_amounts_is_exact(table: Database) -> None:
    amounts = [Decimal("0.10"), Decimal("0.20"), Decimal("12345678901.23")] * 100
    await _store_amounts(table, amounts)

    async with table.engine.connect() as connection:
        total = await connection.scalar(select(func.sum(probe.c.amount)))

    assert total == sum(amounts, Decimal(0))
    assert total == Decimal("1234567890153.00")


async def test_money_compares_exactly_in_queries(table: Database) -> None:
    await _store_amounts(
        table, [Decimal("0.29"), Decimal("0.30"), Decimal("0.31"), Decimal("100.00")]
    )

    async with table.engine.connect() as connection:
        equal = await connection.scalar(
            select(func.count())
            .select_from(probe)
            .where(probe.c.amount == Decimal("0.30"))
        )
        at_least = await connection.execute(
            select(probe.c.amount)
            .where(probe.c.amount >= Decimal("0.1") + Decimal("0.2"))
            .order_by(probe.c.amount)
        )
        values = list(at_least.scalars())

    assert equal == 1
    assert values == [Decimal("0.30"), Decimal("0.31"), Decimal("100.00")]


async def test_money_arithmetic_in_sql_stays_exact(table: Database) -> None:
    await _store_amounts(table, [Decimal("0.10")])

    async with table.engine.begin() as connection:
        for _ in range(20):
            await connection.execute(
                probe.update().values(amount=probe.c.amount + Decimal("0.10"))
            )
        value = await connection.scalar(select(probe.c.amount))

    assert value == Decimal("2.10")


# ---- UtcDateTime ---------------------------------------------------------------------


async def test_utc_datetime_round_trips_aware_utc(table: Database) -> None:
    moment = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=UTC)
    await _store_moments(table, [moment])

    (value,) = await _moments(table)

    assert value == moment
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


async def test_utc_datetime_converts_other_offsets_to_utc(table: Database) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    moment = datetime(2026, 3, 1, 18, 0, 0, tzinfo=india)
    await _store_moments(table, [moment])

    (value,) = await _moments(table)

    assert value is not None
    assert value == moment
    assert value.utcoffset() == timedelta(0)
    assert (value.hour, value.minute) == (12, 30)


async def test_utc_datetime_keeps_null(table: Database) -> None:
    await _store_moments(table, [None])

    assert await _moments(table) == [None]


async def test_utc_datetime_refuses_naive_values(table: Database) -> None:
    with pytest.raises(StatementError, match="naive"):
        await _store_moments(table, [datetime(2026, 3, 1, 12, 0, 0)])

    assert await _moments(table) == []


async def test_utc_datetime_refuses_naive_values_in_queries(table: Database) -> None:
    async with table.engine.connect() as connection:
        with pytest.raises(StatementError, match="naive"):
            await connection.execute(
                select(probe.c.id).where(probe.c.at > datetime(2026, 3, 1))
            )


async def test_utc_datetime_orders_and_filters_by_instant(table: Database) -> None:
    base = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    moments = [
        base + timedelta(microseconds=1),
        base - timedelta(days=400),
        # 13:00 at +02:00 is 11:00 UTC: before `base` although it reads later.
        datetime(2026, 3, 1, 13, 0, 0, tzinfo=plus_two),
        base + timedelta(hours=1),
    ]
    await _store_moments(table, list(moments))

    async with table.engine.connect() as connection:
        later = await connection.execute(
            select(probe.c.at).where(probe.c.at > base).order_by(probe.c.at)
        )
        ordered = await connection.execute(select(probe.c.at).order_by(probe.c.at))
        later_values = list(later.scalars())
        ordered_values = list(ordered.scalars())

    assert later_values == [base + timedelta(microseconds=1), base + timedelta(hours=1)]
    assert ordered_values == sorted(moments)
    assert all(v is not None and v.utcoffset() == timedelta(0) for v in ordered_values)
