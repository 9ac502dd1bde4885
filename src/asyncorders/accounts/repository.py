from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.storage.tables import Account, Customer, LedgerEntry


async def get_customer(
    session: AsyncSession, platform_id: int, identifier: str
) -> Customer | None:
    return await session.scalar(
        select(Customer).where(
            Customer.platform_id == platform_id, Customer.identifier == identifier
        )
    )


async def list_customers(session: AsyncSession, platform_id: int) -> list[Customer]:
    result = await session.scalars(
        select(Customer)
        .where(Customer.platform_id == platform_id)
        .order_by(Customer.created_at, Customer.id)
    )
    return list(result)


async def get_account(
    session: AsyncSession, platform_id: int, identifier: str
) -> tuple[Account, str] | None:
    """The account and its customer's identifier."""
    row = (
        await session.execute(
            select(Account, Customer.identifier)
            .join(Customer, Customer.id == Account.customer_id)
            .where(Account.platform_id == platform_id, Account.identifier == identifier)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def accounts_of(session: AsyncSession, customer_ids: list[int]) -> list[Account]:
    if not customer_ids:
        return []
    result = await session.scalars(
        select(Account)
        .where(Account.customer_id.in_(customer_ids))
        .order_by(Account.created_at, Account.id)
    )
    return list(result)


async def account_number_taken(session: AsyncSession, number: str) -> bool:
    found = await session.scalar(
        select(Account.id).where(Account.account_number == number)
    )
    return found is not None


async def add_to_balance(
    session: AsyncSession, account_id: int, amount: Decimal
) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(balance=Account.balance + amount)
    )


async def take_from_balance(
    session: AsyncSession, account_id: int, amount: Decimal
) -> bool:
    """Subtract `amount` if the balance covers it; False when it does not.

    One conditional UPDATE: the check and the charge cannot be separated by a
    concurrent order.
    """
    result: CursorResult[tuple[()]] = await session.execute(  # type: ignore[assignment]
        update(Account)
        .where(Account.id == account_id, Account.balance >= amount)
        .values(balance=Account.balance - amount)
    )
    return result.rowcount == 1


async def ledger_sums(session: AsyncSession, account_id: int) -> dict[str, Decimal]:
    rows = await session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.account_id == account_id)
        .group_by(LedgerEntry.kind)
    )
    return {kind: total for kind, total in rows}  # noqa: C416 (rows are Row objects)
