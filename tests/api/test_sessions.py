"""A request's database session ends before its answer is sent, so that the
connection goes back to the pool while the answer is still on its way."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database
from tests.factories import Tenant, make_tenant, order_body

pytestmark = pytest.mark.anyio


def checked_out(database: Database) -> int:
    pools = {id(database.engine.pool): database.engine.pool}
    pools[id(database.reader.pool)] = database.reader.pool
    return sum(pool.checkedout() for pool in pools.values())  # type: ignore[attr-defined]


class AtAnswer:
    """Wraps an app; notes how many connections were out when each answer started."""

    def __init__(self, app: ASGIApp, database: Database) -> None:
        self.app = app
        self.database = database
        self.seen: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append(checked_out(self.database))
            await send(message)

        await self.app(scope, receive, noting)


@asynccontextmanager
async def watched_api(
    settings: Settings, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, AtAnswer, Tenant]]:
    app = create_app(settings)
    runtime = Runtime(settings, database, settings.resolved_secret_key)
    app.state.runtime = runtime
    watch = AtAnswer(app, database)
    transport = httpx.ASGITransport(app=watch, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/raas/v2"
    ) as http:
        yield http, watch, await make_tenant(runtime, "acme")


async def test_reads_and_writes_give_their_connection_back_before_answering(
    db: Database, backend_settings: Settings
) -> None:
    async with watched_api(backend_settings, db) as (http, watch, tenant):
        body = json.dumps(order_body(tenant, "s1")).encode()
        created = await http.post(
            "/asyncOrders",
            content=body,
            headers={"content-type": "application/json"},
            auth=tenant.auth,
        )
        summary = await http.get(tenant.order_url("s1"), auth=tenant.auth)
        customers = await http.get("/customers", auth=tenant.auth)
        refused = await http.get(tenant.order_url("nope"), auth=tenant.auth)

    statuses = [r.status_code for r in (created, summary, customers, refused)]
    assert statuses == [202, 200, 200, 404]
    assert watch.seen == [0, 0, 0, 0]
