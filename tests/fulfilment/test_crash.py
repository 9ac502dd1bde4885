"""A worker killed with SIGKILL in the middle of an order loses nothing, and the
next worker does nothing twice (real processes, both databases)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from asyncorders.storage.tables import LedgerEntry, OutboxMessage, Reward
from tests.conftest import Api
from tests.factories import Tenant
from tests.fulfilment.helpers import (
    assert_ledger_balances,
    line_statuses,
    lines,
    order_status,
    place,
)
from tests.fulfilment.processes import batches_logged, start_worker, stop, wait_for

pytestmark = pytest.mark.anyio

GOOD, BAD = 60, 6


async def test_worker_killed_mid_order_loses_nothing_and_repeats_nothing(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    db = api.runtime.database
    order = await place(
        db,
        api.runtime.secret,
        tenant,
        "crash",
        lines(GOOD, "good", utid="U000001", amount=25)
        + lines(BAD, "bad", utid="U999001", amount=5),
    )

    slow_log = tmp_path / "slow.log"

    async def one_batch_done() -> bool:
        return batches_logged(slow_log) >= 1

    slow = start_worker(
        api.settings,
        slow_log,
        fulfilment_delay_ms="30",
        batch_size="10",
        lease_seconds="1",
    )
    try:
        await wait_for(one_batch_done)
        await asyncio.sleep(0.12)  # well inside the next batch of ten
    finally:
        slow.kill()
        slow.wait()
    interrupted = await line_statuses(db, order.id)
    assert interrupted.get("PENDING", 0) > 0, "the kill must land mid-order"

    async def finished() -> bool:
        return await order_status(db, order.id) not in ("PENDING", "PROCESSING")

    fresh = start_worker(api.settings, tmp_path / "fresh.log", lease_seconds="1")
    try:
        await wait_for(finished)
    finally:
        assert stop(fresh) == 0

    assert await order_status(db, order.id) == "PARTIAL"
    assert await line_statuses(db, order.id) == {"COMPLETE": GOOD, "FAILED": BAD}
    async with db.sessions() as session:
        fingerprints = list(await session.scalars(select(Reward.fingerprint)))
        refunds = await session.scalar(
            select(func.count()).where(LedgerEntry.kind == "REFUND")
        )
        messages = await session.scalar(select(func.count(OutboxMessage.id)))
    assert len(fingerprints) == len(set(fingerprints)) == GOOD
    assert refunds == BAD
    assert messages == GOOD
    await assert_ledger_balances(db)
    logged = slow_log.read_text() + (tmp_path / "fresh.log").read_text()
    assert sum(map(int, re.findall(r"completed=(\d+)", logged))) == GOOD
