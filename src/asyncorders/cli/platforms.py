"""`asyncorders platform ...`: platforms and their API keys."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.cli.common import run_in_transaction
from asyncorders.settings import Settings

app = typer.Typer(no_args_is_help=True, help="Platforms and their API keys.")


def _show_key(platform: str, public_id: str, key: str) -> None:
    typer.echo(f"platform: {platform}")
    typer.echo(f"key id:   {public_id}")
    typer.echo(f"api key:  {key}")
    typer.secho("The key is shown only this once; keep it safe.", err=True, fg="yellow")


@app.command("create")
def create(name: str) -> None:
    """Create a platform and print its first API key (shown once)."""
    from asyncorders.platforms import service

    async def work(session: AsyncSession, settings: Settings) -> None:
        issued = await service.create_platform(
            session, settings.resolved_secret_key, name
        )
        _show_key(issued.platform_name, issued.public_id, issued.key)

    run_in_transaction(work)


@app.command("add-key")
def add_key(name: str) -> None:
    """Add a second active key to a platform (at most two are active)."""
    from asyncorders.platforms import service

    async def work(session: AsyncSession, settings: Settings) -> None:
        issued = await service.add_key(session, settings.resolved_secret_key, name)
        _show_key(issued.platform_name, issued.public_id, issued.key)

    run_in_transaction(work)


@app.command("rotate-key")
def rotate_key(name: str) -> None:
    """Issue a new key, revoking the oldest one if two are already active."""
    from asyncorders.platforms import service

    async def work(session: AsyncSession, settings: Settings) -> None:
        issued, revoked = await service.rotate_key(
            session, settings.resolved_secret_key, name
        )
        for public_id in revoked:
            typer.echo(f"revoked:  {public_id}")
        _show_key(issued.platform_name, issued.public_id, issued.key)

    run_in_transaction(work)


@app.command("revoke-key")
def revoke_key(name: str, key_id: str) -> None:
    """Revoke a key by its id; it stops working at once, and for good."""
    from asyncorders.platforms import service

    async def work(session: AsyncSession, _: Settings) -> None:
        await service.revoke_key(session, name, key_id)
        typer.echo(f"revoked:  {key_id}")

    run_in_transaction(work)


@app.command("keys")
def list_keys(name: str) -> None:
    """List a platform's keys by id, with when they were made and revoked."""
    from asyncorders.platforms import service

    async def work(session: AsyncSession, _: Settings) -> None:
        for key in await service.list_keys(session, name):
            revoked = key.revoked_at.isoformat() if key.revoked_at else "active"
            typer.echo(f"{key.public_id}  {key.created_at.isoformat()}  {revoked}")

    run_in_transaction(work)


@app.command("rate-limit")
def rate_limit(
    name: str,
    per_second: float = typer.Option(None, "--per-second", min=0.001),
    burst: int = typer.Option(None, "--burst", min=1),
    default: bool = typer.Option(
        False, "--default", help="Go back to the deployment's default."
    ),
) -> None:
    """Set a platform's own rate limit (Tango's public figure: --per-second 1)."""
    from asyncorders.platforms import service

    if default == (per_second is not None or burst is not None):
        typer.secho("error: give --per-second/--burst, or --default", err=True)
        raise typer.Exit(1)

    async def work(session: AsyncSession, _: Settings) -> None:
        await service.set_rate_limit(session, name, per_second, burst)
        shown = "default" if default else f"{per_second}/s, burst {burst}"
        typer.echo(f"platform {name} rate limit: {shown}")

    run_in_transaction(work)
