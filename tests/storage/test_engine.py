"""SQLite's connections: the writer goes to its thread only for what can wait
(a lock another process holds, the commit); the read connections sit beside
it, on the event loop, reading the last commit."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from asyncorders.settings import Settings
from asyncorders.storage import engine
from asyncorders.storage.engine import SQLITE_READERS, Database, connect
from tests.conftest import POSTGRES_ADMIN_URL

pytestmark = pytest.mark.anyio


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database with an empty table `probe (n INTEGER PRIMARY KEY)`."""
    database = connect(Settings(data_dir=tmp_path, secret_key="s", seed_demo=False))
    async with database.engine.begin() as writer:
        await writer.execute(text("CREATE TABLE probe (n INTEGER PRIMARY KEY)"))
    yield database
    await database.dispose()


def _aiosqlite_threads() -> int:
    # aiosqlite names nothing, so count the threads running its worker loop.
    targets = [getattr(thread, "_target", None) for thread in threading.enumerate()]
    return len(
        [
            t
            for t in targets
            if getattr(t, "__name__", "") == "_connection_worker_thread"
        ]
    )


async def test_readers_see_each_commit_and_start_no_thread(database: Database) -> None:
    threads = _aiosqlite_threads()

    async with database.reads() as first, database.reads() as second:
        for session in (first, second):  # the whole read pool, at once
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
        assert _aiosqlite_threads() == threads
        assert database.reader.pool.size() == SQLITE_READERS  # type: ignore[attr-defined]

    for n in (1, 2):
        async with database.engine.begin() as writer:
            await writer.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})
        async with database.reads() as session:
            total = await session.execute(text("SELECT sum(n) FROM probe"))
            assert total.scalar() == n * (n + 1) // 2


async def test_a_write_on_a_read_connection_fails_at_once(database: Database) -> None:
    async with database.reads() as session:
        with pytest.raises(OperationalError, match="readonly"):
            await session.execute(text("INSERT INTO probe VALUES (1)"))
    async with database.reads() as session:
        assert (await session.execute(text("SELECT count(*) FROM probe"))).scalar() == 0


async def test_readers_open_again_after_dispose(tmp_path: Path) -> None:
    database = connect(Settings(data_dir=tmp_path, secret_key="s", seed_demo=False))
    async with database.reads() as session:
        await session.execute(text("SELECT 1"))
    await database.dispose()

    async with database.reader.connect() as connection:  # the pool opens anew
        assert (await connection.execute(text("SELECT 2"))).scalar() == 2
    await database.dispose()


def _count_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function the writer hands to its thread, from now on."""
    trips: list[str] = []
    to_thread = engine.SqliteConnection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await to_thread(self, fn, *args, **kwargs)

    monkeypatch.setattr(engine.SqliteConnection, "_execute", counted)
    return trips


async def _writer_driver(connection: AsyncConnection) -> Any:
    """The writer's aiosqlite connection, with SQL function `thread_id()` that
    says which thread runs a statement."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert isinstance(driver, engine.SqliteConnection)
    driver._conn.create_function("thread_id", 0, threading.get_ident)
    return driver


async def test_a_write_transaction_goes_to_the_thread_only_to_commit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = _count_trips(monkeypatch)

    async with database.engine.begin() as writer:
        await _writer_driver(writer)
        inserted = await writer.execute(
            text("INSERT INTO probe VALUES (:n)"), [{"n": n} for n in range(5)]
        )
        changed = await writer.execute(text("UPDATE probe SET n = n + 10"))
        rows = await writer.execute(text("SELECT n FROM probe ORDER BY n"))
        ran_on = await writer.execute(text("SELECT thread_id()"))
        waits = await writer.execute(text("PRAGMA busy_timeout"))

    assert trips == ["_commit_or_roll_back"]
    assert ran_on.scalar() == threading.get_ident()  # the event loop's thread
    assert waits.scalar() == 0  # a lock fails at once here, never blocks the loop
    assert inserted.rowcount == 5
    assert changed.rowcount == 5
    assert rows.scalars().all() == [10, 11, 12, 13, 14]


def _database_file(database: Database) -> str:
    path = database.engine.url.database
    assert path is not None
    return path


async def test_a_write_lock_another_process_holds_is_awaited_on_the_thread(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = sqlite3.connect(_database_file(database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as the CLI would, writing beside the server
    trips = _count_trips(monkeypatch)

    async def insert() -> None:
        async with database.engine.begin() as writer:
            await writer.execute(text("INSERT INTO probe VALUES (7)"))

    waiting = asyncio.create_task(insert())
    ticks = [time.monotonic()]
    while len(ticks) < 20:  # the event loop goes on meanwhile ...
        await asyncio.sleep(0.01)
        ticks.append(time.monotonic())
    assert not waiting.done()
    # ... not held for the busy timeout (5 s) by a BEGIN waiting on it
    assert max(b - a for a, b in itertools.pairwise(ticks)) < 1.0
    other.commit()
    other.close()
    await waiting

    assert trips == ["_begin_waiting", "_commit_or_roll_back"]
    async with database.reads() as session:
        assert (await session.execute(text("SELECT n FROM probe"))).scalar() == 7


async def test_a_write_lock_held_past_the_busy_timeout_fails_only_that_transaction(
    tmp_path: Path,
) -> None:
    settings = Settings(
        data_dir=tmp_path, secret_key="s", seed_demo=False, sqlite_busy_timeout_ms=50
    )
    database = connect(settings)
    try:
        async with database.engine.begin() as writer:
            await writer.execute(text("CREATE TABLE probe (n INTEGER PRIMARY KEY)"))
        other = sqlite3.connect(_database_file(database), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with database.engine.begin() as writer:
                await writer.execute(text("INSERT INTO probe VALUES (1)"))
        other.rollback()
        other.close()

        async with database.engine.begin() as writer:  # no wait is left behind
            assert (await writer.execute(text("PRAGMA busy_timeout"))).scalar() == 0
            await writer.execute(text("INSERT INTO probe VALUES (2)"))
        async with database.reads() as session:
            found = await session.execute(text("SELECT n FROM probe"))
            assert found.scalars().all() == [2]
    finally:
        await database.dispose()


async def test_statements_follow_a_trip_still_on_the_thread(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips = _count_trips(monkeypatch)
    async with database.engine.connect() as writer:
        driver = await _writer_driver(writer)
        gate = threading.Event()
        stuck = asyncio.create_task(driver._execute(gate.wait))
        await asyncio.sleep(0)  # handed to the thread ...
        stuck.cancel()  # ... and its caller gone, the thread still busy with it
        asyncio.get_running_loop().call_later(0.05, gate.set)

        await writer.execute(text("INSERT INTO probe VALUES (1)"))
        ran_on = await writer.execute(text("SELECT thread_id()"))
        await writer.commit()

    # BEGIN IMMEDIATE waited its turn on the thread; once the thread was
    # done, the transaction's statements ran on the loop again.
    assert trips == ["wait", "_run", "_commit_or_roll_back"]
    assert ran_on.scalar() == threading.get_ident()


async def test_a_commit_that_fails_leaves_no_transaction_open(
    database: Database,
) -> None:
    async with database.engine.begin() as writer:
        await writer.execute(
            text(
                "CREATE TABLE child (parent INTEGER REFERENCES probe (n) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )

    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        async with database.engine.begin() as writer:  # checked at COMMIT
            await writer.execute(text("INSERT INTO child VALUES (1)"))

    async with database.engine.begin() as writer:  # BEGIN works: nothing left open
        await writer.execute(text("INSERT INTO probe VALUES (1)"))
        await writer.execute(text("INSERT INTO child VALUES (1)"))
    async with database.reads() as session:
        assert (await session.execute(text("SELECT count(*) FROM child"))).scalar() == 1


async def test_a_refused_statement_undoes_its_transaction(database: Database) -> None:

    async def insert_twice() -> None:
        async with database.engine.begin() as writer:
            await writer.execute(text("INSERT INTO probe VALUES (1)"))
            await writer.execute(text("INSERT INTO probe VALUES (1)"))

    with pytest.raises(IntegrityError):
        await insert_twice()
    async with database.engine.begin() as writer:  # the connection goes on
        await writer.execute(text("INSERT INTO probe VALUES (2)"))
        result = await writer.execute(text("SELECT n FROM probe"))
        assert result.scalars().all() == [2]


async def test_a_statement_hands_out_its_rows_as_sqlite3_does(tmp_path: Path) -> None:
    connection = await engine.SqliteConnection.open(str(tmp_path / "rows.sqlite3"), 1.0)
    try:
        async with connection.cursor() as cursor:
            await cursor.execute("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3")
            assert cursor.description[0][0] == "1"
            assert await cursor.fetchone() == (1,)
            assert list(await cursor.fetchmany(5)) == [(2,), (3,)]
            assert await cursor.fetchone() is None
            await cursor.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY)")
            await cursor.executemany("INSERT INTO probe VALUES (?)", [(7,), (9,)])
            assert cursor.rowcount == 2
            assert cursor.description is None
            assert list(await cursor.fetchall()) == []
    finally:
        await connection.close()


def _postgresql() -> Settings:
    return Settings(secret_key="s", seed_demo=False, database_url=POSTGRES_ADMIN_URL)


async def _transaction_starts(connection: AsyncConnection) -> set[Any]:
    """When the transaction of each of two statements began, 20 ms apart."""
    first = (await connection.execute(text("SELECT now()"))).scalar()
    await asyncio.sleep(0.02)
    return {first, (await connection.execute(text("SELECT now()"))).scalar()}


async def test_postgresql_reads_need_no_transaction() -> None:
    database = connect(_postgresql())
    try:
        async with database.reader.connect() as reader:
            assert len(await _transaction_starts(reader)) == 2  # each its own
        async with database.engine.begin() as writer:
            assert len(await _transaction_starts(writer)) == 1  # one for both
    finally:
        await database.dispose()


async def test_postgresql_replaces_a_connection_that_died_while_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "PING_AFTER_IDLE_SECONDS", 0.05)
    database = connect(_postgresql())
    try:
        async with database.engine.connect() as connection:
            victim = (
                await connection.execute(text("SELECT pg_backend_pid()"))
            ).scalar()
        async with connect(_postgresql()).engine.begin() as other:
            await other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim})
        await asyncio.sleep(0.1)

        async with database.engine.connect() as connection:  # no error: pinged first
            now = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert now != victim
    finally:
        await database.dispose()
