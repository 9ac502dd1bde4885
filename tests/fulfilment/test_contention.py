"""Four worker processes share 200 orders of 50 line items on PostgreSQL."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from asyncorders.storage.tables import AsyncOrder, LineItem, OutboxMessage, Reward
from tests.conftest import Api
from tests.factories import make_tenant
from tests.fulfilment.helpers import assert_ledger_balances, lines, place
from tests.fulfilment.processes import start_worker, stop, wait_for

pytestmark = pytest.mark.anyio

ORDERS, LINES, WORKERS = 200, 50, 4


async def test_four_workers_fulfil_every_line_exactly_once(
    api: Api, tmp_path: Path
) -> None:
    db = api.runtime.database
    if db.is_sqlite:
        pytest.skip("several worker processes are a PostgreSQL deployment")
    tenant = await make_tenant(api.runtime, "busy", funds=Decimal("300000.00"))
    for number in range(ORDERS):
        await place(db, api.runtime.secret, tenant, f"o{number}", lines(LINES))

    async def all_finished() -> bool:
        async with db.sessions() as session:
            open_orders = await session.scalar(
                select(func.count()).where(
                    AsyncOrder.status.in_(("PENDING", "PROCESSING"))
                )
            )
        return open_orders == 0

    logs = [tmp_path / f"worker-{n}.log" for n in range(WORKERS)]
    workers = [start_worker(api.settings, log, batch_size="25") for log in logs]
    try:
        await wait_for(all_finished, within=180, every=0.25)
    finally:
        codes = [stop(worker) for worker in workers]
    assert codes == [0] * WORKERS

    async with db.sessions() as session:
        rows = await session.execute(
            select(LineItem.status, func.count()).group_by(LineItem.status)
        )
        statuses = {status: count for status, count in rows}  # noqa: C416 (Rows)
        distinct_credentials = await session.scalar(
            select(func.count(func.distinct(Reward.fingerprint)))
        )
        messages = await session.scalar(select(func.count(OutboxMessage.id)))
        complete_orders = await session.scalar(
            select(func.count()).where(AsyncOrder.status == "COMPLETE")
        )
    assert statuses == {"COMPLETE": ORDERS * LINES}
    assert distinct_credentials == ORDERS * LINES
    assert messages == ORDERS * LINES
    assert complete_orders == ORDERS
    await assert_ledger_balances(db)
    logged = "".join(log.read_text() for log in logs)
    assert sum(map(int, re.findall(r"completed=(\d+)", logged))) == ORDERS * LINES
    assert all("fulfilment.batch_done" in log.read_text() for log in logs), (
        "every worker should have taken a share"
    )
