"""Helpers for fulfilment tests: make orders through the service, drain the queue,
and read back what was stored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from asyncorders.accounts import service as accounts
from asyncorders.fulfilment.worker import Worker
from asyncorders.orders import service as orders
from asyncorders.orders.schemas import CreateAsyncOrderCriteria
from asyncorders.platforms import service as platforms
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import Account, AsyncOrder, LineItem
from tests.factories import Tenant, line


async def place(
    database: Database,
    secret: bytes,
    tenant: Tenant,
    ref: str,
    lines: list[dict[str, Any]],
) -> AsyncOrder:
    """Accept an order through the service, as the API would."""
    async with database.sessions() as session:
        caller = await platforms.authenticate(
            session, secret, tenant.platform, tenant.key
        )
        assert caller is not None
        criteria = CreateAsyncOrderCriteria.model_validate(
            {
                "externalRefID": ref,
                "customerIdentifier": tenant.customer,
                "accountIdentifier": tenant.account,
                "lineItems": lines,
            }
        )
        order, created = await orders.create(
            session, caller, criteria, request_id="test", max_line_items=10_000
        )
        assert created
        await session.commit()
        return order


def lines(count: int, prefix: str = "l", **overrides: Any) -> list[dict[str, Any]]:
    return [line(f"{prefix}{i}", **overrides) for i in range(count)]


async def drain(worker: Worker, limit: int = 10_000) -> int:
    """Run the worker until it finds nothing to do; returns the batches run."""
    batches = 0
    while await worker.fulfil_next() is not None:
        batches += 1
        assert batches < limit
    return batches


async def order_status(database: Database, order_id: int) -> str:
    async with database.sessions() as session:
        status = await session.scalar(
            select(AsyncOrder.status).where(AsyncOrder.id == order_id)
        )
        assert status is not None
        return status


async def line_statuses(database: Database, order_id: int) -> dict[str, int]:
    async with database.sessions() as session:
        rows = await session.execute(
            select(LineItem.status, func.count())
            .where(LineItem.order_id == order_id)
            .group_by(LineItem.status)
        )
        return {status: count for status, count in rows}  # noqa: C416 (Row objects)


async def assert_ledger_balances(database: Database) -> None:
    """For every account: balance == funded - charged + refunded, to the cent."""
    async with database.sessions() as session:
        for account in await session.scalars(select(Account)):
            totals = await accounts.ledger_totals(session, account.id)
            assert account.balance == totals.expected_balance, account.identifier
            assert account.balance >= Decimal("0")


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)
