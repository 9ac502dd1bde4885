"""A batch that outlives its lease: renewed where a second connection exists,
and never failed by a renewal that cannot get one."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import select

from asyncorders.fulfilment.worker import Worker
from asyncorders.storage.engine import connect
from asyncorders.storage.tables import AsyncOrder
from tests.conftest import Api
from tests.factories import Tenant
from tests.fulfilment.helpers import lines, order_status, place, with_settings

pytestmark = pytest.mark.anyio


async def test_a_batch_longer_than_its_lease_commits_with_one_connection(
    api: Api, tenant: Tenant
) -> None:
    # 5 lines x 100 ms outlive a 0.3 s lease; with one connection (always so
    # on SQLite) a renewal cannot get one within the 0.2 s pool timeout.
    settings = with_settings(
        api.settings,
        lease_seconds=0.3,
        fulfilment_delay_ms=100,
        db_pool_size=1,
        db_pool_timeout=0.2,
    )
    order = await place(
        api.runtime.database, api.runtime.secret, tenant, "slow", lines(5)
    )
    database = connect(settings)
    try:
        result = await Worker(database, settings).fulfil_next()
    finally:
        await database.dispose()

    assert result is not None
    assert (result.completed, result.finished_as) == (5, "COMPLETE")
    assert await order_status(api.runtime.database, order.id) == "COMPLETE"


async def test_the_lease_is_renewed_while_a_long_batch_runs_on_postgresql(
    api: Api, tenant: Tenant
) -> None:
    db = api.runtime.database
    if db.is_sqlite:
        pytest.skip("on SQLite the batch's write lock keeps other workers out")
    settings = with_settings(
        api.settings, lease_seconds=0.3, fulfilment_delay_ms=100, batch_size=10
    )
    order = await place(db, api.runtime.secret, tenant, "slow", lines(20))
    worker = Worker(db, settings)

    batch = asyncio.create_task(worker.fulfil_next())
    seen: set[datetime] = set()
    while not batch.done():
        async with db.sessions() as session:
            expires = await session.scalar(
                select(AsyncOrder.lease_expires_at).where(AsyncOrder.id == order.id)
            )
        if expires is not None:
            seen.add(expires)
        await asyncio.sleep(0.05)
    result = await batch

    assert result is not None
    assert result.completed == 10
    assert len(seen) >= 2, "the lease should have been renewed during the batch"
