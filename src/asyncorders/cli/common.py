"""What every command shares: settings, a database with the schema applied, and
one transaction per command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.errors import AsyncOrdersError
from asyncorders.settings import Settings

T = TypeVar("T")


def run_in_transaction(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction; a domain error exits with status 1."""
    settings = Settings()

    async def main() -> T:
        from asyncorders.storage import migrate
        from asyncorders.storage.engine import connect

        database = connect(settings)
        try:
            await migrate.upgrade(database)
            async with database.sessions() as session:
                result = await work(session, settings)
                await session.commit()
                return result
        finally:
            await database.dispose()

    try:
        return asyncio.run(main())
    except AsyncOrdersError as error:
        typer.secho(f"error: {error.message}", err=True, fg="red")
        for item in error.errors:
            typer.secho(f"  {item.path}: {item.message}", err=True, fg="red")
        raise typer.Exit(1) from None
