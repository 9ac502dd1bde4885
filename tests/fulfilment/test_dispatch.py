"""Outbox dispatch: sends run outside any transaction, claims keep two senders
apart, and a dead sender's claim expires so its messages go again."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from asyncorders.fulfilment.delivery import Outgoing
from asyncorders.fulfilment.service import MAX_SEND_ATTEMPTS
from asyncorders.fulfilment.worker import Worker
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import LineItem, OutboxMessage
from tests.conftest import Api, api_with
from tests.factories import Tenant, line
from tests.fulfilment.helpers import drain, place

pytestmark = pytest.mark.anyio


class Outbox:
    """A transport that records what it sends, optionally held at the wire."""

    def __init__(self, *, hold: bool = False) -> None:
        self.sent: list[Outgoing] = []
        self.sending = asyncio.Event()
        self.release = asyncio.Event()
        if not hold:
            self.release.set()

    async def send(self, message: Outgoing) -> None:
        self.sending.set()
        await asyncio.wait_for(self.release.wait(), timeout=30)
        self.sent.append(message)


@dataclass
class SmallPool:
    """The app and a worker sharing a database with a single pooled connection."""

    http: httpx.AsyncClient
    database: Database


@pytest.fixture
async def small_pool(api: Api) -> AsyncIterator[SmallPool]:
    # One connection, as SQLite always has; a request that cannot get it within
    # 0.5 s answers 503.002.
    async with api_with(api.settings, db_pool_size=1, db_pool_timeout=0.5) as small:
        yield SmallPool(small.http, small.runtime.database)


async def emailed_order(api: Api, tenant: Tenant, ref: str = "mail") -> None:
    await place(api.runtime.database, api.runtime.secret, tenant, ref, [line("a")])


async def messages(database: Database) -> list[OutboxMessage]:
    async with database.sessions() as session:
        return list(await session.scalars(select(OutboxMessage)))


async def test_a_slow_send_holds_no_connection_and_the_api_answers_meanwhile(
    api: Api, tenant: Tenant, small_pool: SmallPool
) -> None:
    await emailed_order(api, tenant)
    outbox = Outbox(hold=True)
    worker = Worker(
        small_pool.database, api.settings, transports_by_channel={"EMAIL": outbox}
    )
    await drain(worker)

    dispatching = asyncio.create_task(worker.dispatch())
    try:
        await asyncio.wait_for(outbox.sending.wait(), timeout=10)
        checked_out = small_pool.database.engine.pool.checkedout()  # type: ignore[attr-defined]
        started = time.monotonic()
        response = await small_pool.http.get(
            f"/accounts/{tenant.account}", auth=tenant.auth
        )
        waited = time.monotonic() - started
        (claimed,) = await messages(api.runtime.database)
    finally:
        outbox.release.set()
        sent = await dispatching

    assert checked_out == 0, "the send must run outside any transaction"
    assert response.status_code == 200, response.text
    assert waited < 2  # promptly; waiting for the pool would have meant a 503
    assert claimed.status == "SENDING"
    assert sent == 1
    (message,) = await messages(api.runtime.database)
    assert (message.status, message.attempts, message.claimed_by) == ("SENT", 1, None)


async def test_a_claimed_message_is_not_sent_twice_until_its_claim_expires(
    api: Api, tenant: Tenant
) -> None:
    await emailed_order(api, tenant)
    db = api.runtime.database
    dead_outbox, live_outbox = Outbox(hold=True), Outbox()
    dead = Worker(db, api.settings, transports_by_channel={"EMAIL": dead_outbox})
    dead.rules = dataclasses.replace(dead.rules, send_claim=timedelta(seconds=1))
    live = Worker(db, api.settings, transports_by_channel={"EMAIL": live_outbox})
    await drain(live)

    # The first sender claims the message and dies on the wire.
    dying = asyncio.create_task(dead.dispatch())
    await asyncio.wait_for(dead_outbox.sending.wait(), timeout=10)
    dying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dying

    assert await live.dispatch() == 0, "a live claim keeps other senders away"
    await asyncio.sleep(1.1)
    assert await live.dispatch() == 1
    assert await live.dispatch() == 0

    (message,) = await messages(db)
    assert (message.status, message.attempts) == ("SENT", 2)
    assert [m.message_id for m in live_outbox.sent] == [
        f"<{await _line_ref(db)}@asyncorders>"
    ]


async def _line_ref(database: Database) -> str:
    async with database.sessions() as session:
        ref: str | None = await session.scalar(select(LineItem.reference_line_item_id))
    assert ref is not None
    return ref


class Refusing:
    """A transport whose server refuses every message."""

    async def send(self, message: Outgoing) -> None:
        raise ConnectionRefusedError("no mail server here")


async def delivery_state(api: Api, tenant: Tenant, ref: str) -> tuple[str, str]:
    response = await api.http.get(tenant.order_url(ref), auth=tenant.auth)
    assert response.status_code == 200, response.text
    (item,) = response.json()["lineItems"]
    return response.headers["ETag"], item["deliveryStatus"]


async def test_a_dispatched_line_changes_the_order_etag(
    api: Api, tenant: Tenant
) -> None:
    await emailed_order(api, tenant)
    worker = Worker(
        api.runtime.database, api.settings, transports_by_channel={"EMAIL": Outbox()}
    )
    await drain(worker)
    before, status_before = await delivery_state(api, tenant, "mail")

    assert await worker.dispatch() == 1

    after, status_after = await delivery_state(api, tenant, "mail")
    assert (status_before, status_after) == ("PROCESSING", "DISPATCHED")
    assert after != before


async def test_a_line_whose_delivery_gives_up_changes_the_order_etag(
    api: Api, tenant: Tenant
) -> None:
    await emailed_order(api, tenant)
    db = api.runtime.database
    worker = Worker(db, api.settings, transports_by_channel={"EMAIL": Refusing()})
    await drain(worker)
    async with db.sessions() as session:
        message = await session.scalar(select(OutboxMessage))
        assert message is not None
        message.attempts = MAX_SEND_ATTEMPTS - 1
        await session.commit()
    before, _ = await delivery_state(api, tenant, "mail")

    assert await worker.dispatch() == 1

    after, status = await delivery_state(api, tenant, "mail")
    assert status == "FAILED"
    assert after != before
    (message,) = await messages(db)
    assert (message.status, message.attempts) == ("FAILED", MAX_SEND_ATTEMPTS)
    assert message.last_error == "ConnectionRefusedError: no mail server here"
