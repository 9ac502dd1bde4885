"""`asyncorders customer|account ...`: customers, accounts and funding."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.cli.common import run_in_transaction
from asyncorders.settings import Settings

M = TypeVar("M", bound=BaseModel)

customers = typer.Typer(no_args_is_help=True, help="Customers of a platform.")
accounts = typer.Typer(no_args_is_help=True, help="Accounts and their funds.")


async def _platform_id(session: AsyncSession, name: str) -> int:
    from asyncorders.platforms import repository
    from asyncorders.platforms.service import PlatformNotFound

    platform = await repository.get_by_name(session, name)
    if platform is None:
        raise PlatformNotFound(f"No platform named {name!r}.")
    return platform.id


@customers.command("create")
def create_customer(
    platform: str, identifier: str, display_name: str = typer.Option(..., "--name")
) -> None:
    """Create a customer of PLATFORM."""
    from asyncorders.accounts import service
    from asyncorders.accounts.schemas import CreateCustomerCriteria

    criteria = _validated(
        CreateCustomerCriteria,
        customerIdentifier=identifier,
        displayName=display_name,
    )

    async def work(session: AsyncSession, _: Settings) -> None:
        platform_id = await _platform_id(session, platform)
        await service.create_customer(session, platform_id, criteria)
        typer.echo(f"customer {identifier} created")

    run_in_transaction(work)


@accounts.command("create")
def create_account(
    platform: str,
    customer: str,
    identifier: str,
    display_name: str = typer.Option(..., "--name"),
    email: str = typer.Option(..., "--email"),
    currency: str = typer.Option("USD", "--currency"),
) -> None:
    """Create an account under CUSTOMER of PLATFORM."""
    from asyncorders.accounts import service
    from asyncorders.accounts.schemas import CreateAccountCriteria

    criteria = _validated(
        CreateAccountCriteria,
        accountIdentifier=identifier,
        displayName=display_name,
        contactEmail=email,
        currencyCode=currency,
    )

    async def work(session: AsyncSession, _: Settings) -> None:
        platform_id = await _platform_id(session, platform)
        account = await service.create_account(session, platform_id, customer, criteria)
        typer.echo(f"account {identifier} created, number {account.account_number}")

    run_in_transaction(work)


@accounts.command("fund")
def fund(
    platform: str,
    account: str,
    amount: str,
    note: str = typer.Option(None, "--note"),
) -> None:
    """Add AMOUNT to an account's balance, as a FUND ledger entry."""
    from asyncorders.accounts import service
    from asyncorders.accounts.schemas import FundAccount

    try:
        criteria = _validated(FundAccount, amount=Decimal(amount), note=note)
    except InvalidOperation:
        typer.secho(f"error: {amount!r} is not an amount", err=True, fg="red")
        raise typer.Exit(1) from None

    async def work(session: AsyncSession, _: Settings) -> None:
        platform_id = await _platform_id(session, platform)
        funded = await service.fund(
            session, platform_id, account, criteria.amount, criteria.note
        )
        typer.echo(f"account {account} balance {funded.balance} {funded.currency_code}")

    run_in_transaction(work)


@accounts.command("balance")
def balance(platform: str, account: str) -> None:
    """Show an account's balance beside its ledger totals."""
    from asyncorders.accounts import service

    async def work(session: AsyncSession, _: Settings) -> None:
        platform_id = await _platform_id(session, platform)
        row, _owner = await service.get_account(session, platform_id, account)
        totals = await service.ledger_totals(session, row.id)
        typer.echo(f"balance  {row.balance} {row.currency_code}")
        typer.echo(f"funded   {totals.funded}")
        typer.echo(f"charged  {totals.charged}")
        typer.echo(f"refunded {totals.refunded}")

    run_in_transaction(work)


def _validated(model: type[M], **values: object) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        for problem in error.errors(include_url=False):
            field = ".".join(str(part) for part in problem["loc"])
            typer.secho(f"error: {field}: {problem['msg']}", err=True, fg="red")
        raise typer.Exit(1) from None
