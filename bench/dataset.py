"""A realistic data set for the HTTP benchmarks, seeded with bulk inserts.

Platforms, customers, accounts and the catalog go through the services (there
are few of them); orders, line items and their ORDER_CREATED events are bulk
inserted: COPY on PostgreSQL, executemany on SQLite. Seeded orders are
finished (COMPLETE, a few PARTIAL and FAILED), so the embedded worker stays
idle during the measurements.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from asyncorders.accounts import service as accounts
from asyncorders.accounts.schemas import CreateAccountCriteria, CreateCustomerCriteria
from asyncorders.catalog import service as catalog
from asyncorders.demo.seed import demo_catalog
from asyncorders.orders.identifiers import reference_line_item_id
from asyncorders.platforms import service as platforms
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database, connect
from asyncorders.storage.tables import Account, AsyncOrder, LineItem, OrderEvent

PLATFORMS = 4
CUSTOMERS_PER_PLATFORM = 2
ACCOUNTS_PER_CUSTOMER = 3
CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Tenant:
    """One platform's credentials and the accounts it owns."""

    name: str
    key: str
    platform_id: int
    key_id: int
    accounts: list[tuple[str, str]]  # (customer, account)


@dataclass(frozen=True, slots=True)
class Target:
    """One seeded order, as the load scripts address it."""

    platform: str
    key: str
    customer: str
    account: str
    external_ref_id: str


@dataclass
class DataSet:
    tenants: list[Tenant]
    targets: list[Target]  # orders with the full number of line items
    orders: int = 0
    line_items: int = 0


async def create_tenants(database: Database, secret: bytes) -> list[Tenant]:
    tenants = []
    async with database.sessions() as session:
        await catalog.load(session, demo_catalog())
        for p in range(PLATFORMS):
            name = f"bench-{p}"
            issued = await platforms.create_platform(session, secret, name)
            caller = await platforms.authenticate(session, secret, name, issued.key)
            assert caller is not None
            owned = []
            for c in range(CUSTOMERS_PER_PLATFORM):
                customer = f"{name}-c{c}"
                await accounts.create_customer(
                    session,
                    caller.platform_id,
                    CreateCustomerCriteria(
                        customerIdentifier=customer, displayName=customer
                    ),
                )
                for a in range(ACCOUNTS_PER_CUSTOMER):
                    account = f"{customer}-a{a}"
                    await accounts.create_account(
                        session,
                        caller.platform_id,
                        customer,
                        CreateAccountCriteria(
                            accountIdentifier=account,
                            displayName=account,
                            contactEmail=f"{account}@example.com",
                        ),
                    )
                    await accounts.fund(
                        session, caller.platform_id, account, Decimal("9000000.00")
                    )
                    owned.append((customer, account))
            tenants.append(
                Tenant(name, issued.key, caller.platform_id, caller.key_id, owned)
            )
        await session.commit()
    return tenants


async def add_orders(
    database: Database,
    data: DataSet,
    count: int,
    *,
    line_items: int,
    targets: bool,
) -> float:
    """Bulk insert `count` orders of `line_items` lines; returns the seconds taken.

    With `targets`, the new orders join the set the load scripts address.
    """
    started = time.perf_counter()
    async with database.sessions() as session:
        first_id = (await session.scalar(select(func.max(AsyncOrder.id))) or 0) + 1
        first_line = (await session.scalar(select(func.max(LineItem.id))) or 0) + 1
        account_ids = {
            (row.platform_id, row.identifier): (row.id, row.account_number)
            for row in await session.scalars(select(Account))
        }
    rng = random.Random(first_id)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    line_id = first_line
    for chunk_start in range(0, count, CHUNK):
        orders, lines, events = [], [], []
        for n in range(chunk_start, min(count, chunk_start + CHUNK)):
            order_id = first_id + n
            tenant = data.tenants[order_id % len(data.tenants)]
            customer, account = tenant.accounts[
                (order_id // len(data.tenants)) % len(tenant.accounts)
            ]
            account_id, account_number = account_ids[(tenant.platform_id, account)]
            created = base + timedelta(seconds=order_id * 7)
            ref = f"ext-{order_id:08d}"
            reference = f"AA260101-{order_id:012d}"
            status = rng.choices(["COMPLETE", "PARTIAL", "FAILED"], [90, 7, 3])[0]
            orders.append(
                _order_row(
                    order_id,
                    reference,
                    tenant,
                    customer,
                    account,
                    account_id,
                    account_number,
                    ref,
                    status,
                    line_items,
                    created,
                    rng,
                )
            )
            for position in range(line_items):
                lines.append(
                    _line_row(line_id, order_id, reference, position, status, created)
                )
                line_id += 1
            events.append(_event_row(order_id, tenant, created))
            if targets:
                data.targets.append(
                    Target(tenant.name, tenant.key, customer, account, ref)
                )
        await _bulk(database, AsyncOrder, orders)
        await _bulk(database, LineItem, lines)
        await _bulk(database, OrderEvent, events, with_ids=False)
    data.orders += count
    data.line_items += count * line_items
    if not database.is_sqlite:  # fresh statistics, as autovacuum would soon have
        async with database.engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def _order_row(
    order_id: int,
    reference: str,
    tenant: Tenant,
    customer: str,
    account: str,
    account_id: int,
    account_number: str,
    ref: str,
    status: str,
    line_items: int,
    created: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    return {
        "id": order_id,
        "reference_order_id": reference,
        "platform_id": tenant.platform_id,
        "account_id": account_id,
        "customer_identifier": customer,
        "account_identifier": account,
        "account_number": account_number,
        "external_ref_id": ref,
        "status": status,
        "campaign": f"campaign-{rng.randrange(50)}",
        "purchase_order_number": f"PO-{rng.randrange(100_000):05d}",
        "notes": "seeded by bench/dataset.py",
        "sender": {"firstName": "Bench", "lastName": "Co", "email": "b@example.com"},
        "currency_code": "USD",
        "amount_charged": Decimal(25 * line_items),
        "total_line_items": line_items,
        "failed_line_items": [],
        "duplicate_line_item_ref_ids": {},
        "version": 1,
        "created_at": created,
        "updated_at": created,
        "completed_at": created + timedelta(seconds=5),
        "available_at": created,
        "lease_owner": None,
        "lease_expires_at": None,
    }


def _line_row(
    line_id: int,
    order_id: int,
    reference: str,
    position: int,
    order_status: str,
    created: datetime,
) -> dict[str, Any]:
    failed = order_status == "FAILED" or (order_status == "PARTIAL" and position == 0)
    return {
        "id": line_id,
        "order_id": order_id,
        "position": position,
        "reference_line_item_id": reference_line_item_id(reference, position),
        "external_ref_line_item_id": f"line-{position}",
        "utid": "U000002",
        "reward_name": "Northwind Books Gift Card",
        "amount": Decimal(25),
        "currency_code": "USD",
        "quantity": 1,
        "amount_charged": Decimal(25),
        "delivery_method": "EMAIL",
        "recipient": {"firstName": "Ada", "email": f"ada{position}@example.com"},
        "delivery_date": None,
        "etid": "E000000",
        "ptid": None,
        "email_subject": None,
        "message": None,
        "line_item_note": None,
        "shipping_method": None,
        "expiration_date": None,
        "status": "FAILED" if failed else "COMPLETE",
        "delivery_status": "FAILED" if failed else "DELIVERED",
        "errors": [],
        "date_issued": None if failed else created + timedelta(seconds=5),
        "created_at": created,
        "credentials": None,
        "credential_fingerprint": None,
    }


def _event_row(order_id: int, tenant: Tenant, created: datetime) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "kind": "ORDER_CREATED",
        "occurred_at": created,
        "platform_id": tenant.platform_id,
        "api_key_id": tenant.key_id,
        "request_id": "bench-seed",
        "changes": [{"field": "orderStatus", "old": None, "new": "PENDING"}],
    }


async def _bulk(
    database: Database, table: Any, rows: list[dict[str, Any]], with_ids: bool = True
) -> None:
    if not rows:
        return
    if database.is_sqlite:
        async with database.engine.begin() as connection:
            await connection.execute(insert(table), rows)
        return
    columns = [c for c in table.__table__.columns if with_ids or c.name != "id"]
    json_columns = {c.name for c in columns if c.type.__class__.__name__ == "JSON"}
    records = [
        tuple(
            json.dumps(row[c.name]) if c.name in json_columns else row[c.name]
            for c in columns
        )
        for row in rows
    ]
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            table.__tablename__, records=records, columns=[c.name for c in columns]
        )
        if with_ids:
            name = table.__tablename__
            await driver.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {name}))"
            )


async def audit_events(settings: Settings, kind: str = "METADATA_UPDATED") -> int:
    database = connect(settings)
    try:
        async with database.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OrderEvent)
                .where(OrderEvent.kind == kind)
            )
    finally:
        await database.dispose()
    return count or 0
