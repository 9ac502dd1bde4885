"""Customers, accounts and the ledger that carries every account's balance.

The balance column is a running total kept in the same transaction as each
ledger entry, so funded - charged + refunded always equals it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.accounts import repository
from asyncorders.accounts.schemas import CreateAccountCriteria, CreateCustomerCriteria
from asyncorders.clock import utcnow
from asyncorders.errors import (
    AlreadyExists,
    CustomerOrAccountNotFound,
    FieldError,
    ValidationFailed,
)
from asyncorders.storage.tables import Account, Customer, LedgerEntry

ACTIVE = "ACTIVE"
# JSON carries money as numbers, exact up to 15 significant digits; every amount
# the API shows stays below this, and balances are capped here to keep it so.
MAX_BALANCE = Decimal("9999999999999.99")


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    funded: Decimal
    charged: Decimal
    refunded: Decimal

    @property
    def expected_balance(self) -> Decimal:
        return self.funded - self.charged + self.refunded


async def create_customer(
    session: AsyncSession, platform_id: int, criteria: CreateCustomerCriteria
) -> Customer:
    customer = Customer(
        platform_id=platform_id,
        identifier=criteria.customerIdentifier,
        display_name=criteria.displayName,
        status=ACTIVE,
        created_at=utcnow(),
    )
    await _insert_unique(session, customer, "customer", criteria.customerIdentifier)
    return customer


async def get_customer(
    session: AsyncSession, platform_id: int, identifier: str
) -> Customer:
    customer = await repository.get_customer(session, platform_id, identifier)
    if customer is None:
        raise CustomerOrAccountNotFound(f"Customer {identifier!r} not found.")
    return customer


async def list_customers(
    session: AsyncSession, platform_id: int
) -> list[tuple[Customer, list[Account]]]:
    customers = await repository.list_customers(session, platform_id)
    accounts = await repository.accounts_of(session, [c.id for c in customers])
    return [(c, [a for a in accounts if a.customer_id == c.id]) for c in customers]


async def accounts_of(session: AsyncSession, customer: Customer) -> list[Account]:
    return await repository.accounts_of(session, [customer.id])


async def create_account(
    session: AsyncSession,
    platform_id: int,
    customer_identifier: str,
    criteria: CreateAccountCriteria,
) -> Account:
    customer = await get_customer(session, platform_id, customer_identifier)
    account = Account(
        platform_id=platform_id,
        customer_id=customer.id,
        identifier=criteria.accountIdentifier,
        account_number=await _new_account_number(session),
        display_name=criteria.displayName,
        contact_email=criteria.contactEmail,
        currency_code=criteria.currencyCode.value,
        status=ACTIVE,
        balance=Decimal("0.00"),
        created_at=utcnow(),
    )
    await _insert_unique(session, account, "account", criteria.accountIdentifier)
    return account


async def get_account(
    session: AsyncSession, platform_id: int, identifier: str
) -> tuple[Account, str]:
    """The account and the identifier of the customer that owns it."""
    found = await repository.get_account(session, platform_id, identifier)
    if found is None:
        raise CustomerOrAccountNotFound(f"Account {identifier!r} not found.")
    return found


async def fund(
    session: AsyncSession,
    platform_id: int,
    account_identifier: str,
    amount: Decimal,
    note: str | None = None,
) -> Account:
    account, _ = await get_account(session, platform_id, account_identifier)
    if not await repository.add_to_balance(session, account.id, amount, MAX_BALANCE):
        raise ValidationFailed(
            [
                FieldError(
                    "amount",
                    "400.002",
                    f"The balance may not exceed {MAX_BALANCE}.",
                    invalid_value=str(amount),
                    constraint="Max",
                )
            ]
        )
    session.add(
        LedgerEntry(
            account_id=account.id,
            kind="FUND",
            amount=amount,
            note=note,
            created_at=utcnow(),
        )
    )
    await session.flush()
    await session.refresh(account)
    return account


async def charge(
    session: AsyncSession, account_id: int, order_id: int, amount: Decimal
) -> bool:
    """Charge an order's total to the account; False if the balance is too low."""
    if amount == 0:
        return True
    if not await repository.take_from_balance(session, account_id, amount):
        return False
    session.add(
        LedgerEntry(
            account_id=account_id,
            kind="CHARGE",
            amount=amount,
            order_id=order_id,
            created_at=utcnow(),
        )
    )
    return True


async def ledger_totals(session: AsyncSession, account_id: int) -> LedgerTotals:
    sums = await repository.ledger_sums(session, account_id)
    zero = Decimal("0.00")
    return LedgerTotals(
        funded=sums.get("FUND", zero),
        charged=sums.get("CHARGE", zero),
        refunded=sums.get("REFUND", zero),
    )


async def _insert_unique(
    session: AsyncSession, row: Customer | Account, kind: str, identifier: str
) -> None:
    """Insert `row`; a duplicate identifier is a 409, not a database error."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise AlreadyExists(
            f"A {kind} with identifier {identifier!r} already exists."
        ) from None


async def _new_account_number(session: AsyncSession) -> str:
    while True:
        number = f"A{secrets.randbelow(10**11):011d}"
        if not await repository.account_number_taken(session, number):
            return number
