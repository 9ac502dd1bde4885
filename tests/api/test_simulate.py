"""X-Simulate: fault injection in sandbox mode, ignored in production mode."""

from __future__ import annotations

import time

import httpx
import pytest

from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.settings import Mode
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("simulate", "status", "key"),
    [
        ("rate-limit", 429, "429.001"),
        ("unavailable", 503, "503.002"),
        ("server-error", 500, "500.001"),
    ],
)
async def test_sandbox_simulates_the_error_with_the_envelope(
    api: Api, tenant: Tenant, simulate: str, status: int, key: str
) -> None:
    response = await api.http.get(
        "/customers", auth=tenant.auth, headers={"X-Simulate": simulate}
    )

    assert_envelope(response, status, key)
    if status != 500:
        assert response.headers["Retry-After"] == "1"


async def test_sandbox_simulated_latency_waits_then_serves(
    api: Api, tenant: Tenant
) -> None:
    started = time.perf_counter()
    response = await api.http.get(
        "/customers", auth=tenant.auth, headers={"X-Simulate": "latency=150"}
    )

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.15


async def test_unknown_simulation_is_refused_with_400(api: Api, tenant: Tenant) -> None:
    response = await api.http.get(
        "/customers", auth=tenant.auth, headers={"X-Simulate": "explode"}
    )

    body = assert_envelope(response, 400, "400.002")
    assert body["errors"][0]["path"] == "X-Simulate"


@pytest.mark.parametrize(
    "simulate", ["rate-limit", "unavailable", "server-error", "latency=10", "nonsense"]
)
async def test_production_mode_ignores_x_simulate(
    api: Api, tenant: Tenant, simulate: str
) -> None:
    settings = api.settings.model_copy(
        update={"mode": Mode.PRODUCTION, "credentials_key": None}
    )
    app = create_app(settings)
    app.state.runtime = Runtime(settings, api.runtime.database, api.runtime.secret)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/raas/v2"
    ) as http:
        response = await http.get(
            "/customers", auth=tenant.auth, headers={"X-Simulate": simulate}
        )

    assert response.status_code == 200, response.text
