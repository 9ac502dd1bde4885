"""Fixtures for the whole suite: every test that takes `client` or `db` runs once on
SQLite and once on PostgreSQL, against real servers.

Each backend gets a fresh database per run (migrated once); tables are emptied
before each test. PostgreSQL is reached through ASYNCORDERS_TEST_POSTGRES_URL
(default: the local server, trust auth).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from asyncorders import log
from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import Database, connect
from asyncorders.storage.tables import Base
from tests.factories import Tenant, make_tenant

# Readable lines with plain tracebacks, as in sandbox mode.
log.configure(json=False)

POSTGRES_ADMIN_URL = os.environ.get(
    "ASYNCORDERS_TEST_POSTGRES_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend_settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """Settings for a freshly migrated database of each backend."""
    data_dir = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        settings = Settings(data_dir=data_dir, secret_key="test-secret")
        asyncio.run(_migrate(settings))
        yield settings
        return

    name = f"asyncorders_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name)
    settings = Settings(
        data_dir=data_dir,
        secret_key="test-secret",
        database_url=url.render_as_string(hide_password=False),
    )
    try:
        asyncio.run(_migrate(settings))
        yield settings
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _migrate(settings: Settings) -> None:
    database = connect(settings)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture
async def db(backend_settings: Settings) -> AsyncIterator[Database]:
    """The backend's database, emptied for this test."""
    database = connect(backend_settings)
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with database.engine.begin() as connection:
        if database.is_sqlite:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our table names)
        else:
            await connection.execute(
                text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            )
    try:
        yield database
    finally:
        await database.dispose()


@dataclass
class Api:
    """An HTTP client on the ASGI app, and the app's runtime."""

    http: httpx.AsyncClient
    runtime: Runtime

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


@asynccontextmanager
async def asgi_api(settings: Settings, database: Database) -> AsyncIterator[Api]:
    """An HTTP client on a new app for `settings`, served from `database`."""
    app = create_app(settings)
    runtime = Runtime(settings, database, settings.resolved_secret_key)
    app.state.runtime = runtime
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/raas/v2"
    ) as http:
        yield Api(http, runtime)


@asynccontextmanager
async def api_with(settings: Settings, **changes: Any) -> AsyncIterator[Api]:
    """`asgi_api` on a database pool of its own, with some settings changed."""
    changed = settings.model_copy(update=changes)
    database = connect(changed)
    try:
        async with asgi_api(changed, database) as api:
            yield api
    finally:
        await database.dispose()


@pytest.fixture
async def api(db: Database, backend_settings: Settings) -> AsyncIterator[Api]:
    async with asgi_api(backend_settings, db) as client:
        yield client


@pytest.fixture
async def tenant(api: Api) -> Tenant:
    """A platform with a customer, a funded USD account and the demo catalog."""
    return await make_tenant(api.runtime, "acme")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def live_url(
    backend_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A real `asyncorders serve` on loopback, on the backend's database.

    One process per backend for the whole run: tables are emptied per test by
    `db`, and the server caches nothing of them (no embedded worker).
    """
    from tests.servers import serving

    log_file = tmp_path_factory.mktemp("live") / "serve.log"
    with serving(backend_settings, log_file) as base:
        yield f"{base}/raas/v2"
