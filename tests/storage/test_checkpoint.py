"""The writer's log is copied back into the database file beside it, after its
commits, long before the writer's own checkpoint would."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text

from asyncorders import log
from asyncorders.settings import Settings
from asyncorders.storage.checkpoint import Checkpointer
from asyncorders.storage.engine import connect

pytestmark = pytest.mark.anyio


def _in_the_file(path: Path) -> int:
    """Rows of `probe` in the database file itself, its log left unread."""
    with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as file_only:
        try:
            (count,) = file_only.execute("SELECT count(*) FROM probe").fetchone()
        except sqlite3.DatabaseError:
            # The table itself is still in the log, or the checkpointer is
            # copying pages while this reads the file as if nothing wrote it
            # ("malformed"): not there yet. A file that stays so fails below.
            return 0
        return int(count)


def _soon(check: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _checkpoint_threads() -> int:
    return sum(t.name == "sqlite-checkpoint" for t in threading.enumerate())


async def test_commits_reach_the_database_file_without_the_writers_checkpoint(
    tmp_path: Path,
) -> None:
    threads = _checkpoint_threads()
    database = connect(Settings(data_dir=tmp_path, secret_key="s", seed_demo=False))
    path = Path(str(database.engine.url.database))
    async with database.engine.begin() as writer:
        await writer.execute(text("CREATE TABLE probe (n INTEGER PRIMARY KEY)"))
    for n in range(3):  # a few pages: far below the writer's own checkpoint
        async with database.engine.begin() as writer:
            await writer.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})

    try:
        assert _soon(lambda: _in_the_file(path) == 3)
        assert _checkpoint_threads() == threads + 1
    finally:
        await database.dispose()
    assert _checkpoint_threads() == threads


def _wal_database(path: Path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # only the checkpointer copies
    writer.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY)")
    return writer


def test_a_checkpointer_closed_starts_again_with_the_next_commit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "probe.sqlite3"
    writer = _wal_database(path)
    checkpoints = Checkpointer(str(path))
    threads = _checkpoint_threads()
    try:
        writer.execute("INSERT INTO probe VALUES (1)")
        checkpoints.committed()
        assert _soon(lambda: _in_the_file(path) == 1)
        checkpoints.close()
        assert _checkpoint_threads() == threads

        writer.execute("INSERT INTO probe VALUES (2)")
        checkpoints.committed()  # the engine may be used again after dispose
        assert _soon(lambda: _in_the_file(path) == 2)
    finally:
        checkpoints.close()
        writer.close()


class _SlowClear(threading.Event):
    """Widens the moment between the thread waking and clearing its signal."""

    def clear(self) -> None:
        time.sleep(0.2)
        super().clear()


def test_a_close_while_the_thread_wakes_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "probe.sqlite3"
    writer = _wal_database(path)
    checkpoints = Checkpointer(str(path))
    checkpoints._due = _SlowClear()
    threads = _checkpoint_threads()
    try:
        checkpoints.committed()
        time.sleep(0.05)  # the thread is (most likely) inside the slow clear
        started = time.monotonic()
        checkpoints.close()
        assert time.monotonic() - started < 5  # not the 10 s of a lost wake-up
        assert _checkpoint_threads() == threads
    finally:
        checkpoints.close()
        writer.close()


def test_a_checkpoint_that_fails_is_logged_once_and_raises_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    written: list[str] = []

    def logged() -> bool:
        log.flush()
        written.append(capfd.readouterr().err)
        return "storage.checkpoint_failed" in "".join(written)

    checkpoints = Checkpointer(str(tmp_path))  # a folder: SQLite cannot open it
    threads = _checkpoint_threads()
    try:
        checkpoints.committed()
        assert _soon(logged)
        for _ in range(2):  # failing again, and still there for the next commit
            checkpoints.committed()
            time.sleep(0.05)
        assert _checkpoint_threads() == threads + 1
    finally:
        checkpoints.close()
    logged()
    assert "".join(written).count("storage.checkpoint_failed") == 1
