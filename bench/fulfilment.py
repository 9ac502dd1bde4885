"""How fast do workers fulfil line items, beside the raw rate the database takes
the same rows?

    .venv/bin/python bench/fulfilment.py [--lines 100000] [--batch 100]

For embedded SQLite with one worker, and PostgreSQL with 1, 2 and 4 workers, it
places orders of 100 line items, runs real `asyncorders worker` processes until
every order is finished, and prints line items fulfilled per second. Beside each
it measures, in the same run and on the same database, the raw rate of batched
inserts of rows as wide as a fulfilled line item (same batch size, one
transaction per batch, same durability settings). The ratio is the figure to
quote. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine

from asyncorders.accounts import service as accounts
from asyncorders.accounts.schemas import CreateAccountCriteria, CreateCustomerCriteria
from asyncorders.catalog import service as catalog
from asyncorders.demo.seed import demo_catalog
from asyncorders.fulfilment.credentials import issue
from asyncorders.fulfilment.worker import make_vault
from asyncorders.orders import service as orders
from asyncorders.orders.schemas import CreateAsyncOrderCriteria
from asyncorders.platforms import service as platforms
from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import Database, connect
from asyncorders.storage.tables import AsyncOrder, LineItem

POSTGRES_ADMIN = os.environ.get(
    "ASYNCORDERS_BENCH_POSTGRES_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
)
LINES_PER_ORDER = 100
SECRET = "bench-secret"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="asyncorders-bench-") as tmp:
        rows.append(await measure("SQLite (embedded)", 1, args, sqlite(Path(tmp))))
        for workers in (1, 2, 4):
            async with postgres(Path(tmp)) as settings:
                rows.append(await measure("PostgreSQL", workers, args, settings))

    print()
    print(
        f"{'database':<20}{'workers':>8}{'fulfilled/s':>14}{'raw rows/s':>14}"
        f"{'ratio':>9}"
    )
    for name, workers, rate, raw in rows:
        print(f"{name:<20}{workers:>8}{rate:>14,.0f}{raw:>14,.0f}{rate / raw:>9.1%}")


def sqlite(tmp: Path) -> Settings:
    return Settings(data_dir=tmp / "sqlite", secret_key=SECRET, seed_demo=False)


class postgres:
    """A throw-away PostgreSQL database for one measurement."""

    def __init__(self, tmp: Path) -> None:
        self.name = f"asyncorders_bench_{uuid.uuid4().hex[:10]}"
        self.tmp = tmp

    async def __aenter__(self) -> Settings:
        await admin(f'CREATE DATABASE "{self.name}"')
        url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"
        return Settings(
            data_dir=self.tmp / self.name,
            secret_key=SECRET,
            database_url=url,
            seed_demo=False,
        )

    async def __aexit__(self, *_: object) -> None:
        await admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


async def admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


async def measure(
    name: str, workers: int, args: argparse.Namespace, settings: Settings
) -> tuple[str, int, float, float]:
    database = connect(settings)
    await migrate.upgrade(database)
    print(f"{name}, {workers} worker(s): placing {args.lines:,} line items", flush=True)
    await place_orders(database, settings, args.lines)
    raw = await raw_insert_rate(database, settings, args.lines, args.batch)
    await database.dispose()

    started = time.perf_counter()
    processes = [start_worker(settings, args.batch) for _ in range(workers)]
    database = connect(settings)
    try:
        while await open_orders(database):
            await asyncio.sleep(0.5)
    finally:
        elapsed = time.perf_counter() - started
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        await database.dispose()
    rate = args.lines / elapsed
    print(f"  {rate:,.0f} line items/s fulfilled, raw inserts {raw:,.0f} rows/s")
    return name, workers, rate, raw


async def place_orders(database: Database, settings: Settings, total: int) -> None:
    async with database.sessions() as session:
        issued = await platforms.create_platform(
            session, settings.resolved_secret_key, "bench"
        )
        caller = await platforms.authenticate(
            session, settings.resolved_secret_key, "bench", issued.key
        )
        assert caller is not None
        await catalog.load(session, demo_catalog())
        await accounts.create_customer(
            session,
            caller.platform_id,
            CreateCustomerCriteria(customerIdentifier="bench", displayName="Bench Co"),
        )
        await accounts.create_account(
            session,
            caller.platform_id,
            "bench",
            CreateAccountCriteria(
                accountIdentifier="bench-main",
                displayName="Bench main",
                contactEmail="bench@example.com",
            ),
        )
        await accounts.fund(
            session, caller.platform_id, "bench-main", Decimal(total * 30)
        )
        await session.commit()
    for number in range(total // LINES_PER_ORDER):
        async with database.sessions() as session:
            await orders.create(
                session,
                caller,
                CreateAsyncOrderCriteria.model_validate(order_body(number)),
                request_id="bench",
                max_line_items=LINES_PER_ORDER,
            )
            await session.commit()


def order_body(number: int) -> dict[str, Any]:
    return {
        "externalRefID": f"bench-{number}",
        "customerIdentifier": "bench",
        "accountIdentifier": "bench-main",
        "lineItems": [
            {
                "externalRefLineItemID": f"l{i}",
                "utid": "U000002",
                "amount": 25,
                "deliveryMethod": "EMAIL",
                "recipient": {"firstName": "Ada", "email": f"ada{i}@example.com"},
            }
            for i in range(LINES_PER_ORDER)
        ],
    }


async def raw_insert_rate(
    database: Database, settings: Settings, total: int, batch: int
) -> float:
    """Rows per second for batched inserts of rows shaped like fulfilled lines."""
    table = Table(
        "bench_raw",
        MetaData(),
        *(
            Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable)
            for c in LineItem.__table__.columns
        ),
        # and its reward's sealed credentials and unique fingerprint (kept in
        # the `rewards` table since quantity issues one reward per unit)
        Column("credentials", LargeBinary),
        Column("credential_fingerprint", String(64), unique=True),
    )
    async with database.engine.begin() as connection:
        await connection.run_sync(table.create)
    vault = make_vault(settings)
    now = datetime.now(UTC)
    rows = [raw_row(number, vault, now) for number in range(total)]
    started = time.perf_counter()
    for start in range(0, total, batch):
        async with database.engine.begin() as connection:
            await connection.execute(insert(table), rows[start : start + batch])
    elapsed = time.perf_counter() - started
    async with database.engine.begin() as connection:
        await connection.run_sync(table.drop)
    return total / elapsed


def raw_row(number: int, vault: Any, now: datetime) -> dict[str, Any]:
    credentials = issue(["cardNumber", "pin"])
    return {
        "order_id": 1,
        "position": number,
        "reference_line_item_id": f"RAW-{number:09d}",
        "external_ref_line_item_id": f"l{number}",
        "utid": "U000002",
        "reward_name": "Northwind Books Gift Card",
        "amount": Decimal(25),
        "currency_code": "USD",
        "quantity": 1,
        "amount_charged": Decimal(25),
        "delivery_method": "EMAIL",
        "recipient": {"firstName": "Ada", "email": f"ada{number}@example.com"},
        "etid": "E000000",
        "status": "COMPLETE",
        "delivery_status": "PROCESSING",
        "errors": [],
        "date_issued": now,
        "created_at": now,
        "credentials": vault.seal(credentials),
        "credential_fingerprint": secrets.token_hex(32),
    }


def start_worker(settings: Settings, batch: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ASYNCORDERS_DATA_DIR": str(settings.data_dir),
        "ASYNCORDERS_DATABASE_URL": settings.resolved_database_url,
        "ASYNCORDERS_SECRET_KEY": SECRET,
        "ASYNCORDERS_BATCH_SIZE": str(batch),
        "ASYNCORDERS_POLL_INTERVAL": "0.05",
        "ASYNCORDERS_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "asyncorders", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
    )


async def open_orders(database: Database) -> int:
    async with database.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(AsyncOrder.status.in_(("PENDING", "PROCESSING")))
        )
    return count or 0


if __name__ == "__main__":
    asyncio.run(main())
