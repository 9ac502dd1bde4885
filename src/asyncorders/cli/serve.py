"""`asyncorders serve`: the API (and, in the embedded setup, the demo data)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from asyncorders.settings import Settings


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Start the API server (SQLite file under ./var unless configured)."""
    import uvicorn

    from asyncorders import log
    from asyncorders.api.app import create_app
    from asyncorders.settings import Settings

    settings = Settings()
    log.configure(json=not settings.sandbox, level=settings.log_level)
    if settings.sandbox and settings.seed_demo:
        _announce_demo(settings, f"http://{host}:{port}")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def _announce_demo(settings: Settings, base_url: str) -> None:
    from asyncorders.demo import seed
    from asyncorders.storage import migrate
    from asyncorders.storage.engine import connect

    async def prepare() -> seed.DemoAccess | None:
        database = connect(settings)
        try:
            await migrate.upgrade(database)
            return await seed.ensure(database, settings)
        finally:
            await database.dispose()

    access = asyncio.run(prepare())
    if access is None:
        return
    typer.secho("\nasyncorders sandbox is starting. Try the demo order:\n", err=True)
    typer.secho(f"  {access.curl(base_url)}\n", err=True, fg="green")
    typer.secho(
        f"  platform {access.platform}, customer {access.customer}, "
        f"account {access.account}; docs at {base_url}/raas/v2/docs\n",
        err=True,
    )
