"""The database engine and the unit of work.

One code path serves both databases. SQLite runs in WAL mode behind a single
connection, so writes are serialized inside the process instead of fighting over
the file lock (measured: a pool of SQLite connections under 64 concurrent PATCHes
gave a p99 above 1.5 s, one serialized connection under 100 ms). Each transaction
opens with BEGIN IMMEDIATE so that a second process (the CLI beside a running
server) waits for the lock instead of failing half-way through; only that wait
and the commit go to the writer's thread (see `SqliteConnection`). Reads that
must not queue behind the writer (every GET, and authentication on the hot
PATCH route) use `Database.reads`: on SQLite a pool of connections that only
read, which WAL lets run beside the writer, and which run on the event loop
(see `_InlineConnection`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager as aiosqlite_contextmanager
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from asyncorders.settings import Settings
from asyncorders.storage.checkpoint import Checkpointer

# What a repository function runs its statements on: the unit of work of a
# request, or a bare connection where a batch needs no ORM (the group commit).
Executor = AsyncSession | AsyncConnection


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Read-only work that should not wait for the writer: on SQLite, separate
    # connections reading the last commit (WAL); on PostgreSQL the same pool,
    # each statement in autocommit (see `_postgresql_engines`).
    reader: AsyncEngine
    reads: async_sessionmaker[AsyncSession]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reader.pool is not self.engine.pool:
            await self.reader.dispose()


def connect(settings: Settings) -> Database:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(settings, url.database)
        reader = engine
        if url.database and url.database != ":memory:":
            reader = _sqlite_engine(settings, url.database, readers=SQLITE_READERS)
    else:
        engine, reader = _postgresql_engines(settings, url)
    return Database(engine, _sessions(engine), reader, _sessions(reader))


# A connection that has sat in the pool this long is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0


def _postgresql_engines(
    settings: Settings, url: URL
) -> tuple[AsyncEngine, AsyncEngine]:
    """The engine, and a view of it whose statements each commit on their own.

    Reads need no transaction on PostgreSQL: at READ COMMITTED each statement
    sees the last commit anyway, and BEGIN and ROLLBACK around an
    authentication query were two of its three round trips.

    The pool pings a connection before use only if it has been idle for
    `PING_AFTER_IDLE_SECONDS`: a server restart or a dropped connection is
    then found before a request needs it. A ping on every checkout cost two
    more round trips (asyncpg's is BEGIN and ROLLBACK) per group commit; a
    connection that breaks while in steady use fails its statement instead,
    and that error empties the pool of every connection as old.
    """
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        hide_parameters=True,  # errors and tracebacks must not carry PII
    )
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None:
            return  # just opened
        if time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:  # the pool opens another connection
            raise DisconnectionError() from error

    return engine, engine.execution_options(isolation_level="AUTOCOMMIT")


# Read connections cost a file handle and a page cache each, no thread, so
# there are as many as the requests a busy process has in flight. A request
# that waits for one can be overtaken again and again by newer ones (the
# pool's queue lets a caller that finds a free connection take it), so a
# small pool under steady load turned waits into 503s after the pool timeout.
SQLITE_READERS = 64


# SQLite copies its write-ahead log back into the database file inside the
# commit that takes the log past this many pages. At SQLite's default of 1,000
# (4 MB), a steady stream of PATCHes checkpointed in one batch in five, each
# stall holding up every request of the batch, and copying pages that the next
# batches changed again. At 10,000 (a log of about 40 MB) wrk against serve
# gave 3,041 -> 3,457 req/s (alternated, median of 4); 25,000 gave no more and
# a higher p99. A `Checkpointer` beside the writer now does nearly all of that
# copying and syncing before the writer's own checkpoint comes round, which
# then only starts the log over (storage/checkpoint.py).
WAL_CHECKPOINT_PAGES = 10_000


def _sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _sqlite_engine(
    settings: Settings, database: str | None, readers: int = 0
) -> AsyncEngine:
    """The writer (one connection, BEGIN IMMEDIATE), or a pool of `readers`."""
    on_disk = bool(database and database != ":memory:")
    if on_disk:
        Path(str(database)).parent.mkdir(parents=True, exist_ok=True)
    timeout = settings.sqlite_busy_timeout_ms / 1000
    checkpoints: Checkpointer | None = None
    if readers:
        opener = partial(_InlineConnection.open_reader, str(database), timeout)
    else:
        if on_disk:  # the writer of a file copies its log back beside itself
            checkpoints = Checkpointer(str(database))
        opener = partial(
            SqliteConnection.open, database or ":memory:", timeout, checkpoints
        )
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{database}",
        async_creator=opener,
        pool_size=readers or 1,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        hide_parameters=True,  # errors and tracebacks must not carry PII
        # Every transaction is ended by SQLAlchemy before the connection goes
        # back (the driver itself is in autocommit mode: we emit BEGIN), so the
        # pool's extra ROLLBACK would only cost a trip to the driver's thread.
        pool_reset_on_return=None,
    )
    busy_timeout = settings.sqlite_busy_timeout_ms
    begin = "BEGIN" if readers else "BEGIN IMMEDIATE"

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection.isolation_level is not None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        (journal,) = cursor.fetchone()
        if on_disk and journal != "wal":  # a file system without shared memory
            raise RuntimeError(
                f"SQLite could not use its write-ahead log for {database} "
                f"(journal mode {journal!r}); put the data directory on a local disk"
            )
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # The writer's statements run on the event loop, which must never wait
        # for a lock: only its BEGIN can meet one, and that waits on the thread.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout) if readers else 0}")
        if readers:  # a write here fails at once, never waits on the event loop
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    if checkpoints is not None:
        stop = checkpoints.close
        event.listen(engine.sync_engine, "engine_disposed", lambda _: stop())
    return engine


class SqliteConnection(aiosqlite.Connection):
    """The writer's aiosqlite connection, which goes to its thread only for
    what can wait.

    A statement's trip to the thread and back waits its turn in the event loop
    behind every request the loop is busy with, and the thread in turn waits
    for the GIL after each row SQLite steps through. Under 64 concurrent
    PATCHes a group commit of about 32 spent 7 of its 8 ms that way, while the
    event loop sat idle a fifth of the time waiting for it. But inside a
    transaction that BEGIN IMMEDIATE opened, the write lock is held: no
    statement has anything to wait for. So those statements run at once on
    the event loop's thread, as the reads do (`_InlineConnection`). Only two
    things still go to the thread:

    - BEGIN IMMEDIATE, when another process (the CLI) holds the write lock. It
      is tried at once first; the writer's busy timeout is zero, so a taken
      lock fails it at once, and the thread then waits up to the configured
      timeout;
    - COMMIT: a commit that takes the log past `WAL_CHECKPOINT_PAGES` copies
      pages back into the database file and syncs it.

    A statement never runs on the loop while a trip is still on the thread
    (one whose caller was cancelled, say); it then follows as a trip itself.
    """

    _sent = 0  # trips handed to the thread: counted on the event loop only
    _finished = 0  # trips the thread has done: counted on the thread only
    _busy_ms = 0
    _checkpoints: Checkpointer | None = None

    @classmethod
    async def open(
        cls,
        database: str,
        busy_seconds: float,
        checkpoints: Checkpointer | None = None,
    ) -> aiosqlite.Connection:
        connection = cls(partial(_sqlite3, database, busy_seconds), iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy's own aiosqlite connect
        connection._busy_ms = int(busy_seconds * 1000)
        connection._checkpoints = checkpoints
        return await connection

    @aiosqlite_contextmanager
    async def cursor(self) -> aiosqlite.Cursor:
        return _Statement(self)

    async def commit(self) -> None:
        """Commit; a commit that fails rolls the transaction back, in the same
        trip, so that the connection never goes back to the pool with a
        transaction still open (SQLAlchemy does not roll back after a failed
        commit, and the pool does no reset: the next BEGIN would fail)."""
        await self._execute(_commit_or_roll_back, self._conn)
        if self._checkpoints is not None:
            self._checkpoints.committed()

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A trip: `fn` runs on the connection's thread."""
        self._sent += 1
        return await super()._execute(self._trip, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _trip(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            self._finished += 1

    async def statement(self, sql: str, parameters: Any, *, many: bool) -> _Found:
        if not self._running:
            raise ValueError("Connection closed")  # as aiosqlite's own calls
        connection = self._conn
        if self._sent == self._finished:  # the thread is idle: the loop may run it
            if connection.in_transaction:  # ours, holding the write lock
                return _run(connection, sql, parameters, many=many)
            if sql == BEGIN_WRITING:
                try:
                    return _run(connection, sql, parameters, many=many)
                except sqlite3.OperationalError as error:
                    # Extended codes too: SQLITE_BUSY_RECOVERY, while another
                    # process recovers the log after a crash, is worth the wait.
                    code = getattr(error, "sqlite_errorcode", 0)
                    if code & 0xFF != sqlite3.SQLITE_BUSY:
                        raise
                waited: _Found = await self._execute(
                    _begin_waiting, connection, self._busy_ms
                )
                return waited
        found: _Found = await self._execute(
            _run, connection, sql, parameters, many=many
        )
        return found


BEGIN_WRITING = "BEGIN IMMEDIATE"


def _commit_or_roll_back(connection: sqlite3.Connection) -> None:
    try:
        connection.commit()
    except BaseException:
        if connection.in_transaction:
            connection.rollback()
        raise


def _begin_waiting(connection: sqlite3.Connection, busy_ms: int) -> _Found:
    """BEGIN IMMEDIATE on the thread, waiting up to `busy_ms` for the lock."""
    connection.execute(f"PRAGMA busy_timeout={busy_ms}")
    try:
        return _run(connection, BEGIN_WRITING, (), many=False)
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def _sqlite3(database: str, busy_seconds: float) -> sqlite3.Connection:
    # In autocommit mode from the start: SQLAlchemy would otherwise set it with
    # one more trip, and we emit BEGIN ourselves.
    return sqlite3.connect(
        database, timeout=busy_seconds, isolation_level=None, check_same_thread=False
    )


class _Statement(aiosqlite.Cursor):
    """The cursor SQLAlchemy's adapter asks for: each `execute` runs, fetches
    and closes a sqlite3 cursor in one go, on the thread its connection
    chooses (`SqliteConnection.statement`), and keeps what it found."""

    _conn: SqliteConnection

    def __init__(self, connection: SqliteConnection) -> None:
        self._conn = connection
        self.iter_chunk_size = connection._iter_chunk_size
        self._arraysize = 1  # as sqlite3's
        self._found = _Found(None, -1, None, [])

    async def execute(
        self, sql: str, parameters: Iterable[Any] | None = None
    ) -> aiosqlite.Cursor:
        return await self._run(sql, parameters or (), many=False)

    async def executemany(
        self, sql: str, parameters: Iterable[Iterable[Any]]
    ) -> aiosqlite.Cursor:
        return await self._run(sql, parameters, many=True)

    async def _run(self, sql: str, parameters: Any, *, many: bool) -> aiosqlite.Cursor:
        self._found = await self._conn.statement(sql, parameters, many=many)
        return self

    async def fetchone(self) -> sqlite3.Row | None:
        rows = await self.fetchmany(1)
        return next(iter(rows), None)

    async def fetchmany(self, size: int | None = None) -> Iterable[sqlite3.Row]:
        rows = self._found.rows
        size = size or self.arraysize
        taken, self._found.rows = rows[:size], rows[size:]
        return taken

    async def fetchall(self) -> Iterable[sqlite3.Row]:
        rows, self._found.rows = self._found.rows, []
        return rows

    async def close(self) -> None:
        self._found.rows = []

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def rowcount(self) -> int:
        return self._found.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._found.lastrowid

    @property
    def description(self) -> Any:
        return self._found.description


@dataclass
class _Found:
    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any]


def _run(
    connection: sqlite3.Connection, sql: str, parameters: Any, *, many: bool
) -> _Found:
    """One statement, its rows and the closing of its cursor, on whichever
    thread the connection decided."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Found(cursor.description, cursor.rowcount, cursor.lastrowid, rows)
    finally:
        cursor.close()


class _InlineConnection(SqliteConnection):
    """A connection that runs each call at once, on the event loop, instead of
    in a thread of its own. For the read connections only.

    A WAL reader never waits for a lock, and its queries are index searches of
    microseconds, while handing a call to a thread and back cost about 300 us
    of CPU on the development machine: a GET of one customer made 16 such
    trips (5 ms). The writer keeps a thread for what can wait (`SqliteConnection`).
    """

    @classmethod
    async def open_reader(
        cls, database: str, busy_seconds: float
    ) -> aiosqlite.Connection:
        connector = partial(_sqlite3, database, busy_seconds)
        connection = cls(connector, iter_chunk_size=64)
        connection._connection = connector()  # created and used on the loop's thread
        return connection

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._opened().__await__()  # no thread to start

    async def _opened(self) -> aiosqlite.Connection:
        return self

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or self._connection is None:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def statement(self, sql: str, parameters: Any, *, many: bool) -> _Found:
        found: _Found = await self._execute(
            _run, self._connection, sql, parameters, many=many
        )
        return found  # every statement here at once: a reader has no lock to wait for

    def stop(self) -> None:
        """Close the connection (there is no thread to stop)."""
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None
