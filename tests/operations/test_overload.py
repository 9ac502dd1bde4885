"""Overload and start-up races: a request that waits too long for a database
connection answers 503, a slow upload holds no connection, and processes starting
together migrate once."""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import anyio
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import connect
from tests.api.test_errors import assert_envelope
from tests.conftest import POSTGRES_ADMIN_URL, Api, _admin, api_with
from tests.factories import Tenant, order_body
from tests.servers import server_env

pytestmark = pytest.mark.anyio


async def test_a_request_that_waits_too_long_for_a_connection_answers_503(
    api: Api, tenant: Tenant
) -> None:
    new_customer = {"customerIdentifier": "waited", "displayName": "Waited Inc."}
    async with api_with(api.settings, db_pool_size=1, db_pool_timeout=0.3) as small:
        database = small.runtime.database
        async with AsyncExitStack() as held:
            # Every connection a GET can read on (on SQLite the read pool, on
            # PostgreSQL the one pool), and the writer.
            pool = database.reader.pool
            assert isinstance(pool, QueuePool)
            for _ in range(pool.size()):
                await held.enter_async_context(database.reader.connect())
            if database.reader.pool is not database.engine.pool:
                await held.enter_async_context(database.engine.connect())
            read = await small.http.get("/customers", auth=tenant.auth)
            write = await small.http.post(
                "/customers", json=new_customer, auth=tenant.auth
            )
        after = await small.http.get("/customers", auth=tenant.auth)

    for waited in (read, write):
        assert_envelope(waited, 503, "503.002")
        assert waited.headers["Retry-After"]
    assert after.status_code == 200
    assert "waited" not in after.text  # the refused write wrote nothing


async def test_a_slow_upload_holds_no_database_connection(
    api: Api, tenant: Tenant
) -> None:
    body = json.dumps(order_body(tenant, "slow")).encode()
    halfway = anyio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield body[:20]
        halfway.set()
        await anyio.sleep(1.5)  # three pool timeouts
        yield body[20:]

    uploads: list[httpx.Response] = []
    async with api_with(api.settings, db_pool_size=1, db_pool_timeout=0.5) as small:

        async def upload() -> None:
            uploads.append(
                await small.http.post(
                    "/asyncOrders",
                    content=trickle(),
                    headers={"Content-Type": "application/json"},
                    auth=tenant.auth,
                )
            )

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(upload)
            await halfway.wait()
            meanwhile = await small.http.get("/customers", auth=tenant.auth)

    assert meanwhile.status_code == 200, meanwhile.text
    assert [u.status_code for u in uploads] == [202], uploads[0].text


async def test_processes_starting_together_apply_the_migrations_once(
    api: Api,
) -> None:
    if api.runtime.database.is_sqlite:
        pytest.skip("several processes share a PostgreSQL database")
    name = f"asyncorders_race_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    settings = Settings(
        data_dir=api.settings.data_dir,
        secret_key="test-secret",
        database_url=make_url(POSTGRES_ADMIN_URL)
        .set(database=name)
        .render_as_string(hide_password=False),
    )
    # Four processes, imports done, start migrating at the same instant.
    go = time.time() + 3
    starts = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _MIGRATE_AT,
            str(go),
            env=server_env(settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(4)
    ]
    try:
        outputs = await asyncio.gather(*(start.communicate() for start in starts))
        database = connect(settings)
        try:
            current = await migrate.is_current(database)
            async with database.engine.connect() as connection:
                versions = await connection.scalar(
                    text("SELECT count(*) FROM alembic_version")
                )
        finally:
            await database.dispose()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    assert [start.returncode for start in starts] == [0] * 4, outputs
    assert current
    assert versions == 1


_MIGRATE_AT = """
import asyncio, sys, time
from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import connect

async def main():
    database = connect(Settings())
    time.sleep(max(0, float(sys.argv[1]) - time.time()))
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()

asyncio.run(main())
"""


async def test_a_steady_crowd_of_readers_gets_no_pool_timeouts(
    api: Api, tenant: Tenant
) -> None:
    """64 clients reading back to back for three pool timeouts: none waits
    for one of SQLite's read connections long enough to be refused."""
    if not api.runtime.database.is_sqlite:
        pytest.skip("PostgreSQL's pool is db_pool_size, a deployment's choice")
    statuses: list[int] = []
    unlimited = {"rate_limit_per_second": 1e6, "rate_limit_burst": 10**6}
    async with api_with(api.settings, db_pool_timeout=0.5, **unlimited) as small:
        deadline = time.monotonic() + 1.5

        async def reader() -> None:
            while time.monotonic() < deadline:
                response = await small.http.get("/customers", auth=tenant.auth)
                statuses.append(response.status_code)

        async with anyio.create_task_group() as tasks:
            for _ in range(64):
                tasks.start_soon(reader)

    assert len(statuses) > 64
    assert set(statuses) == {200}
