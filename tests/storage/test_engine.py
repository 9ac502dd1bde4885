"""SQLite's read connections: beside the writer, on the event loop, reading the
last commit."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from asyncorders.settings import Settings
from asyncorders.storage.engine import SQLITE_READERS, connect

pytestmark = pytest.mark.anyio


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


async def test_readers_see_each_commit_and_start_no_thread(tmp_path: Path) -> None:
    database = connect(Settings(data_dir=tmp_path, secret_key="s", seed_demo=False))
    try:
        async with database.engine.begin() as writer:
            await writer.execute(text("CREATE TABLE probe (n INTEGER)"))
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
    finally:
        await database.dispose()


async def test_a_write_on_a_read_connection_fails_at_once(tmp_path: Path) -> None:
    database = connect(Settings(data_dir=tmp_path, secret_key="s", seed_demo=False))
    try:
        async with database.engine.begin() as writer:
            await writer.execute(text("CREATE TABLE probe (n INTEGER)"))
        async with database.reads() as session:
            with pytest.raises(OperationalError, match="readonly"):
                await session.execute(text("INSERT INTO probe VALUES (1)"))
        async with database.reads() as session:
            assert (
                await session.execute(text("SELECT count(*) FROM probe"))
            ).scalar() == 0
    finally:
        await database.dispose()


async def test_readers_open_again_after_dispose(tmp_path: Path) -> None:
    database = connect(Settings(data_dir=tmp_path, secret_key="s", seed_demo=False))
    async with database.reads() as session:
        await session.execute(text("SELECT 1"))
    await database.dispose()

    async with database.reader.connect() as connection:  # the pool opens anew
        assert (await connection.execute(text("SELECT 2"))).scalar() == 2
    await database.dispose()
