"""The `asyncorders` command: one tree, heavy imports inside each command."""

from __future__ import annotations

import typer

from asyncorders.cli import accounts, catalog, operations, orders, platforms
from asyncorders.cli.serve import serve, worker

app = typer.Typer(
    no_args_is_help=True,
    help="asyncorders: asynchronous bulk reward orders, Tango-style.",
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.command("worker")(worker)
app.add_typer(platforms.app, name="platform")
app.add_typer(accounts.customers, name="customer")
app.add_typer(accounts.accounts, name="account")
app.add_typer(catalog.app, name="catalog")
app.add_typer(operations.app, name="maintenance")
app.add_typer(orders.app, name="orders")


@app.command("migrate")
def migrate() -> None:
    """Apply the database migrations (the server also does this on start)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from asyncorders.cli.common import run_in_transaction
    from asyncorders.settings import Settings

    async def work(_: AsyncSession, __: Settings) -> None:
        typer.echo("schema is current")

    run_in_transaction(work)
