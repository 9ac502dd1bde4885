"""`asyncorders maintenance ...`: deployment-wide switches."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.cli.common import run_in_transaction
from asyncorders.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Maintenance mode, seen by every process.")


@app.command("on")
def on(
    message: str = typer.Option(None, "--message", help="Shown in the 503 answers."),
    retry_after: int = typer.Option(30, "--retry-after", min=1, help="Seconds."),
) -> None:
    """Answer every API request with 503 (every process within two seconds)."""
    from asyncorders.operations import service

    async def work(session: AsyncSession, _: Settings) -> None:
        await service.set_maintenance(session, True, message, retry_after)
        typer.echo("maintenance mode on")

    run_in_transaction(work)


@app.command("off")
def off() -> None:
    """Serve requests again."""
    from asyncorders.operations import service

    async def work(session: AsyncSession, _: Settings) -> None:
        await service.set_maintenance(session, False)
        typer.echo("maintenance mode off")

    run_in_transaction(work)


@app.command("status")
def status() -> None:
    """Say whether maintenance mode is on."""
    from asyncorders.operations import service

    async def work(session: AsyncSession, _: Settings) -> None:
        mode = await service.maintenance(session)
        typer.echo(f"maintenance mode {'on' if mode.on else 'off'}")

    run_in_transaction(work)
