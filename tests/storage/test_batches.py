"""Batch queries take their keys padded, so that their SQL text repeats."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from asyncorders.orders import repository
from asyncorders.orders.repository import OrderPath
from asyncorders.platforms import repository as platforms
from asyncorders.storage import batches
from asyncorders.storage.engine import Database


@given(st.lists(st.integers(), min_size=1, max_size=batches.MAX_KEYS))
def test_padding_keeps_the_keys_in_order_and_repeats_the_last_to_a_power_of_two(
    keys: list[int],
) -> None:
    padded = batches.padded(keys)

    assert padded[: len(keys)] == keys
    assert set(padded[len(keys) :]) <= {keys[-1]}
    size = len(padded)
    assert size & (size - 1) == 0  # a power of two
    assert size < 2 * len(keys) or size == 1


def test_padded_sizes_are_few() -> None:
    sizes = {batches.padded_size(n) for n in range(1, batches.MAX_KEYS + 1)}
    assert sizes == {1, 2, 4, 8, 16, 32, 64, 128, 256}


def test_no_keys_or_more_than_a_batch_takes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        batches.padded([])
    with pytest.raises(ValueError, match="at most 256 keys"):
        batches.padded(list(range(batches.MAX_KEYS + 1)))


def statements_of(db: Database) -> list[str]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (connection, cursor, statement, ...)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    if db.reader.pool is not db.engine.pool:  # SQLite's read connections
        event.listen(db.reader.sync_engine, "before_cursor_execute", record)
    return seen


async def order_lookups(
    db: Database, batches_of: list[list[tuple[int, OrderPath]]]
) -> list[str]:
    """The SQL texts that `find_many` sends for each batch (none of them exists)."""
    seen = statements_of(db)
    for wanted in batches_of:
        async with db.engine.begin() as connection:
            assert await repository.find_many(connection, wanted) == {}
    return [sql for sql in seen if "FROM async_orders" in sql]


async def key_lookups(db: Database, batches_of: list[list[str]]) -> list[str]:
    """The SQL texts that `active_keys_of` sends for each list of platform names."""
    seen = statements_of(db)
    async with db.reader.connect() as connection:
        for names in batches_of:
            assert await platforms.active_keys_of(connection, names) == []
    return [sql for sql in seen if "FROM platforms" in sql]


@pytest.mark.anyio
async def test_order_lookups_of_five_to_eight_keys_send_one_sql_text(
    db: Database,
) -> None:
    lookups = await order_lookups(
        db,
        [
            [(1, OrderPath("c", "a", f"ref-{n}")) for n in range(count)]
            for count in range(5, 9)
        ],
    )

    assert len(lookups) == 4
    assert len(set(lookups)) == 1


@pytest.mark.anyio
async def test_an_order_named_many_times_in_a_batch_is_looked_up_once(
    db: Database,
) -> None:
    once = [(1, OrderPath("c", "a", "ref"))]

    lookups = await order_lookups(db, [once, once * 200])

    assert len(lookups) == 2
    assert lookups[0] == lookups[1]  # the one-key statement both times


@pytest.mark.anyio
async def test_key_lookups_of_three_and_four_platforms_send_one_sql_text(
    db: Database,
) -> None:
    lookups = await key_lookups(db, [["a", "b", "c"], ["a", "b", "c", "d"]])

    assert len(lookups) == 2
    assert len(set(lookups)) == 1


@pytest.mark.anyio
async def test_key_lookups_of_more_platforms_than_one_query_takes_are_split(
    db: Database,
) -> None:
    names = [f"platform-{n}" for n in range(batches.MAX_KEYS + 1)]

    lookups = await key_lookups(db, [names])

    assert len(lookups) == 2  # 256 names, then 1
