"""Every list filter is served by a tenant-first index that also gives the list's
order, on both databases. Read from the query plans over a realistic table with
fresh statistics, never from timings."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Select, event, insert, select, text

from asyncorders.clock import utcnow
from asyncorders.orders.repository import OrderFilters, list_query
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import Account, AsyncOrder, Platform
from tests.conftest import Api
from tests.factories import Tenant, make_tenant

pytestmark = pytest.mark.anyio

FILTERS = {
    "ix_async_orders_by_account": OrderFilters(account_identifier="acct-3"),
    "ix_async_orders_by_customer": OrderFilters(customer_identifier="cust-3"),
    "ix_async_orders_by_external_ref": OrderFilters(external_ref_id="ref-3"),
    "ix_async_orders_by_campaign": OrderFilters(campaign="campaign-3"),
    "ix_async_orders_by_purchase_order": OrderFilters(purchase_order_number="PO-3"),
    "ix_async_orders_by_status": OrderFilters(statuses=("PENDING",)),
}


@pytest.fixture
async def many_orders(api: Api, tenant: Tenant) -> int:
    """3,000 orders of the tenant and 1,000 of another platform, analysed."""
    await make_tenant(api.runtime, "other")
    async with api.runtime.database.sessions() as session:
        pairs = await session.execute(
            select(Platform.id, Account.id).join(
                Account, Account.platform_id == Platform.id
            )
        )
        accounts = {p: a for p, a in pairs}  # noqa: C416 (a Result has keys(): dict() would misread it)
        ours = await session.scalar(
            select(Platform.id).where(Platform.name == tenant.platform)
        )
        assert ours is not None
        start = utcnow() - timedelta(days=30)
        rows = [
            _order(n, platform, account, start)
            for platform, account in accounts.items()
            for n in range(3000 if platform == ours else 1000)
        ]
        await session.execute(insert(AsyncOrder), rows)
        await session.commit()
    async with api.runtime.database.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    return ours


def _order(n: int, platform: int, account: int, start: Any) -> dict[str, Any]:
    created = start + timedelta(seconds=n)
    return {
        "reference_order_id": f"R{platform}-{n}",
        "platform_id": platform,
        "account_id": account,
        "customer_identifier": f"cust-{n % 25}",
        "account_identifier": f"acct-{n % 50}",
        "account_number": "A1",
        "external_ref_id": f"ref-{n}",
        "status": "PENDING" if n % 50 == 0 else "COMPLETE",
        "campaign": f"campaign-{n % 40}" + ("x" * 300 if n % 7 == 0 else ""),
        "purchase_order_number": f"PO-{n % 100}",
        "currency_code": "USD",
        "amount_charged": Decimal("10.00"),
        "total_line_items": 1,
        "failed_line_items": [],
        "duplicate_line_item_ref_ids": {},
        "version": 1,
        "created_at": created,
        "updated_at": created,
        "available_at": created,
    }


@pytest.mark.parametrize(("index", "filters"), FILTERS.items(), ids=list(FILTERS))
async def test_list_filter_uses_its_index_in_list_order(
    api: Api, many_orders: int, index: str, filters: OrderFilters
) -> None:
    query = (
        list_query(many_orders, filters)
        .order_by(AsyncOrder.created_at.desc(), AsyncOrder.id.desc())
        .limit(51)
    )

    plan = await plan_of(api.runtime.database, query)

    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # SQLite sorting after the fact
    assert "Sort" not in plan, plan  # PostgreSQL sorting after the fact


async def plan_of(database: Database, query: Select[Any]) -> str:
    """The database's plan for `query`, exactly as the driver sends it."""
    plans: list[str] = []
    explain = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "

    def before(_c: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        cursor.execute(explain + statement, params)
        plans.extend(str(row[-1]) for row in cursor.fetchall())

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        async with database.engine.connect() as connection:
            await connection.execute(query)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return "\n".join(plans)
