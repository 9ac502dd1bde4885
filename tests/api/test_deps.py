"""Request dependencies: the session ends before the answer is sent, and how
a caller is looked up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.platforms import service as platforms
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database
from tests.conftest import Api
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


async def test_no_connection_is_out_when_an_answer_starts(
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


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Counts the calls of `platforms.<name>`, which still does its work."""
    real = getattr(platforms, name)
    calls: list[int] = []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(platforms, name, counted)
    return calls


async def test_concurrent_gets_are_authenticated_together(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = count_calls(monkeypatch, "authenticate_many")
    alone = count_calls(monkeypatch, "authenticate")
    wrong = httpx.BasicAuth(tenant.platform, "not-the-key")

    answers = await asyncio.gather(
        *(api.http.get("/customers", auth=tenant.auth) for _ in range(15)),
        api.http.get("/customers", auth=wrong),
    )

    assert [a.status_code for a in answers] == [200] * 15 + [401]
    assert 1 <= len(together) <= 4  # 16 requests, a few queries
    assert alone == []


async def test_a_write_looks_its_caller_up_on_its_own(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    together = count_calls(monkeypatch, "authenticate_many")
    alone = count_calls(monkeypatch, "authenticate")

    created = await api.http.post(
        "/asyncOrders", json=order_body(tenant, "w1"), auth=tenant.auth
    )

    assert created.status_code == 202
    assert (len(alone), together) == (1, [])
