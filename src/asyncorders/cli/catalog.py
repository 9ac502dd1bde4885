"""`asyncorders catalog ...`: the reward catalog."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.cli.common import run_in_transaction
from asyncorders.settings import Settings

app = typer.Typer(no_args_is_help=True, help="The reward catalog.")


@app.command("load")
def load(path: Path) -> None:
    """Insert or update brands and items (by brandKey and utid) from a JSON file."""
    from asyncorders.catalog import service
    from asyncorders.catalog.schemas import CatalogFile

    try:
        catalog = CatalogFile.model_validate(json.loads(path.read_bytes()))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        typer.secho(f"error: cannot read {path}: {error}", err=True, fg="red")
        raise typer.Exit(1) from None
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            where = ".".join(str(part) for part in problem["loc"])
            typer.secho(f"error: {where}: {problem['msg']}", err=True, fg="red")
        raise typer.Exit(1) from None

    async def work(session: AsyncSession, _: Settings) -> None:
        result = await service.load(session, catalog)
        typer.echo(
            f"{result.brands} brands; {result.items_added} items added, "
            f"{result.items_updated} updated"
        )

    run_in_transaction(work)
