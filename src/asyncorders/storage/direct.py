"""Batch statements sent on the driver's own connection.

The group commit runs the same few statements hundreds of times a second. For
each, SQLAlchemy's execution layer (connection and transaction objects, the
execution context, the result, the asyncpg adapter's bookkeeping) cost more
than the driver's whole round trip: on PostgreSQL, one connection, a SELECT of
one parameter took 87 us of client CPU through `AsyncConnection.execute` and
35 us through asyncpg itself; a BEGIN, one statement and a COMMIT through
`AsyncEngine.begin` took 307 us.

So SQLAlchemy still builds each statement and compiles it, once per dialect,
and still owns the connections (they come from the engine's pool, with its
size, timeout and pings); here the compiled SQL goes to the driver connection
with the type processors SQLAlchemy would apply, and driver errors are raised
as the SQLAlchemy exceptions `AsyncConnection.execute` raises, a lost
connection invalidating the pool's older ones as there. Rows come back as
plain tuples.

With the group commit's statements sent this way, wrk against `serve` (64
connections, 4 alternated rounds of 8 s, median of the per-round ratios) gave
1.16x the PATCHes per second on SQLite (p99 21 -> 17 ms) and 1.08x on
PostgreSQL with 2 processes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement, Executable, Select
from sqlalchemy.types import TypeEngine

from asyncorders.storage.engine import BEGIN_WRITING, Executor, SqliteConnection

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


# A processor and the place of the value it converts. Most values need none,
# so a row is taken as it is and only those places are converted.
_Converts = tuple[tuple[int, Callable[[Any], Any]], ...]


def _converts(processors: Sequence[Processor]) -> _Converts:
    return tuple((i, p) for i, p in enumerate(processors) if p is not None)


@dataclass(slots=True)
class Compiled:
    """A statement's SQL for one dialect, its parameters in the driver's order
    with their bind processors, and the types of the columns it selects."""

    sql: str
    names: tuple[str, ...]
    binds: _Converts
    columns: tuple[TypeEngine[Any], ...]
    dialect: Dialect
    # The result processors, once the driver has told the columns' types.
    results: _Converts | None = None

    def arguments(self, parameters: Mapping[str, Any]) -> list[Any]:
        values = [parameters[name] for name in self.names]
        for i, process in self.binds:
            values[i] = process(values[i])
        return values

    def learn(self, column_types: Sequence[Any]) -> None:
        """Take the result processors for the driver's own column types (on
        PostgreSQL a number's processor depends on the type the server sent)."""
        dialect = self.dialect
        processors = [
            type_.dialect_impl(dialect).result_processor(dialect, code)
            for type_, code in zip(self.columns, column_types, strict=True)
        ]
        self.results = _converts(processors)

    def rows(self, found: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        converts = self.results or ()
        rows = []
        for row in found:
            values = list(row)
            for i, process in converts:
                values[i] = process(values[i])
            rows.append(tuple(values))
        return rows


@functools.lru_cache(maxsize=512)  # statements built once: a few dozen in all
def compiled(
    statement: Executable, dialect: Dialect, keys: tuple[str, ...] | None = None
) -> Compiled:
    """`statement` compiled for `dialect`; `keys` name the columns an INSERT
    or UPDATE sets, as the keys of its parameters would."""
    compiler: Any = cast(ClauseElement, statement).compile(
        dialect=dialect,
        column_keys=list(keys) if keys is not None else None,
        for_executemany=keys is not None,  # no RETURNING of generated ids
    )
    names = tuple(compiler.positiontup or ())
    if compiler.insert_prefetch or compiler.update_prefetch:
        raise ValueError("a statement whose defaults Python computes needs SQLAlchemy")
    if any(compiler.binds[name].expanding for name in names):
        raise ValueError("a statement with an expanding IN needs SQLAlchemy")
    binds = _converts(
        [
            compiler.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        ]
    )
    columns: tuple[TypeEngine[Any], ...] = ()
    if isinstance(statement, Select):
        columns = tuple(column.type for column in statement.selected_columns)
    return Compiled(str(compiler), names, binds, columns, dialect)


class _Driver(Protocol):
    async def fetch(self, sql: str, arguments: list[Any]) -> Sequence[Any]: ...

    async def column_types(self, sql: str, columns: int) -> Sequence[Any]: ...

    async def execute_many(self, sql: str, arguments: list[list[Any]]) -> None: ...

    async def begin(self) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def in_transaction(self) -> bool: ...


class _Asyncpg:
    """asyncpg, its transaction ended by plain statements: a Transaction object
    whose BEGIN was cancelled stays the connection's, and would turn the next
    user's transaction into a savepoint."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def fetch(self, sql: str, arguments: list[Any]) -> Sequence[Any]:
        rows: Sequence[Any] = await self.connection.fetch(sql, *arguments)
        return rows

    async def column_types(self, sql: str, columns: int) -> Sequence[Any]:
        prepared = await self.connection.prepare(sql)
        return [attribute.type.oid for attribute in prepared.get_attributes()]

    async def execute_many(self, sql: str, arguments: list[list[Any]]) -> None:
        await self.connection.executemany(sql, arguments)

    async def begin(self) -> None:
        await self.connection.execute("BEGIN")

    async def commit(self) -> None:
        await self.connection.execute("COMMIT")

    async def rollback(self) -> None:
        await self.connection.execute("ROLLBACK")

    def in_transaction(self) -> bool:
        return bool(self.connection.is_in_transaction())


class _Sqlite:
    def __init__(self, connection: SqliteConnection) -> None:
        self.connection = connection

    async def fetch(self, sql: str, arguments: list[Any]) -> Sequence[Any]:
        found = await self.connection.statement(sql, arguments, many=False)
        return found.rows

    async def column_types(self, sql: str, columns: int) -> Sequence[Any]:
        return [None] * columns  # sqlite3 reports no types

    async def execute_many(self, sql: str, arguments: list[list[Any]]) -> None:
        await self.connection.statement(sql, arguments, many=True)

    async def begin(self) -> None:
        await self.connection.statement(BEGIN_WRITING, (), many=False)

    async def commit(self) -> None:
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.connection.rollback()

    def in_transaction(self) -> bool:
        return self.connection.in_transaction


class Statements:
    """Runs compiled statements on one pooled connection."""

    def __init__(self, connection: AsyncConnection, raw: Any) -> None:
        self._connection = connection
        self._raw = raw  # SQLAlchemy's DBAPI adapter around the driver connection
        self.dialect = connection.dialect
        driver = raw.driver_connection
        sqlite = isinstance(driver, SqliteConnection)
        self._driver: _Driver = _Sqlite(driver) if sqlite else _Asyncpg(driver)

    async def fetch(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows of the SELECT `statement`, with `parameters` bound by name."""
        if not isinstance(statement, Select):
            raise ValueError("fetch takes a SELECT, whose columns it knows")
        query = compiled(statement, self.dialect)
        sql, driver = query.sql, self._driver
        if query.results is None:
            columns = len(query.columns)
            query.learn(await self._run(sql, driver.column_types(sql, columns)))
        found = await self._run(sql, driver.fetch(sql, query.arguments(parameters)))
        return query.rows(found)

    async def execute_many(
        self, statement: Executable, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """`statement` once per row of parameters (all rows with the same keys)."""
        query = compiled(statement, self.dialect, tuple(rows[0]))
        arguments = [query.arguments(row) for row in rows]
        await self._run(query.sql, self._driver.execute_many(query.sql, arguments))

    async def _run(self, sql: str, step: Awaitable[T]) -> T:
        """A step of the driver, its errors raised as SQLAlchemy's."""
        try:
            return await step
        except Exception as error:
            translated = await self._translated(error, sql)
            if translated is error:
                raise
            raise translated from error

    async def _translated(self, error: Exception, sql: str) -> Exception:
        """`error` as SQLAlchemy raises it; a lost connection is invalidated, so
        that the pool opens a new one instead of handing this one out again."""
        adapter = self._raw.dbapi_connection
        try:
            # The adapter's own mapping of driver errors to DBAPI classes
            # (asyncpg raises none of its own); private, SQLAlchemy is pinned.
            adapter._handle_exception(error)
        except Exception as dbapi_error:
            error = dbapi_error
        lost = self.dialect.is_disconnect(error, adapter, None)  # type: ignore[arg-type]
        if lost:
            # As SQLAlchemy does: every connection as old as this one is
            # recycled at its next checkout, not found dead by its next batch.
            self._connection.sync_engine.pool._invalidate(self._raw, error, False)
            await self._connection.invalidate(error)
        dbapi = self.dialect.loaded_dbapi
        if not isinstance(error, dbapi.Error):
            return error  # OSError, say: the driver's own, as SQLAlchemy leaves it
        translated: Exception = DBAPIError.instance(
            sql,
            None,
            error,
            dbapi.Error,
            hide_parameters=True,
            connection_invalidated=lost,
            dialect=self.dialect,
        )
        return translated


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[Statements]:
    """Statements that each commit on their own (autocommit on PostgreSQL;
    on SQLite, a read connection outside any transaction)."""
    async with engine.connect() as connection:
        yield Statements(connection, await connection.get_raw_connection())


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[Statements]:
    """Statements in one transaction, committed when the block ends and rolled
    back when it raises."""
    async with engine.connect() as connection:
        statements = Statements(connection, await connection.get_raw_connection())
        driver = statements._driver
        try:
            await statements._run("BEGIN", driver.begin())
            yield statements
            await statements._run("COMMIT", driver.commit())
        except Exception:
            if not connection.invalidated and driver.in_transaction():
                with contextlib.suppress(Exception):  # the first error tells
                    await statements._run("ROLLBACK", driver.rollback())
            raise
        except BaseException:
            # Cancelled: where the driver stands is not known (a BEGIN may
            # still be on its way, or on SQLite's thread), so the connection goes.
            if not connection.invalidated:
                await connection.invalidate()
            raise
        finally:
            # SQLAlchemy never saw this transaction, so its pool would not end
            # one left open (a failed rollback, say): the connection goes.
            if not connection.invalidated and driver.in_transaction():
                await connection.invalidate()


# What a batch query runs on: these statements, or SQLAlchemy's own execution
# inside a unit of work (a request's session, a bare connection).
Runner = Executor | Statements


async def fetch(
    runner: Runner, statement: Executable, parameters: Mapping[str, Any]
) -> Sequence[Any]:
    """The rows of `statement` on either path."""
    if isinstance(runner, Statements):
        return await runner.fetch(statement, parameters)
    result = await runner.execute(statement, parameters)
    return result.all()


async def execute_many(
    runner: Runner, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`statement` once per row of parameters, on either path."""
    if isinstance(runner, Statements):
        await runner.execute_many(statement, rows)
    else:
        await runner.execute(statement, list(rows))
