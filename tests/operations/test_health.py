"""Health, readiness, metrics, maintenance and logging within one process."""

from __future__ import annotations

import json
import re

import pytest

from asyncorders import log
from asyncorders.operations import service as operations
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant, create_order

pytestmark = pytest.mark.anyio


async def test_healthz_answers_without_credentials(api: Api) -> None:
    response = await api.http.get("http://testserver/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_ready_when_the_schema_is_current(api: Api) -> None:
    response = await api.http.get("http://testserver/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_metrics_count_requests_rejections_and_orders(
    api: Api, tenant: Tenant
) -> None:
    await create_order(api.http, tenant, "m1")
    await api.http.get(
        "/customers", auth=tenant.auth, headers={"X-Simulate": "rate-limit"}
    )

    response = await api.http.get(
        "http://testserver/metrics", headers={"Accept": "text/plain"}
    )

    assert response.status_code == 200
    text = response.text
    assert re.search(
        r'asyncorders_requests_total\{method="POST",route="/raas/v2/asyncOrders",'
        r'status="202"\} [1-9]',
        text,
    )
    assert 'asyncorders_rejections_total{reason="429.001",status="429"}' in text
    assert 'asyncorders_orders{status="PENDING"} 1.0' in text
    assert "asyncorders_oldest_pending_order_age_seconds" in text
    assert "asyncorders_request_duration_seconds_bucket" in text


async def test_maintenance_answers_503_with_retry_after_and_health_still_works(
    api: Api, tenant: Tenant
) -> None:
    async with api.runtime.database.sessions() as session:
        await operations.set_maintenance(session, True, "Upgrading.", retry_after=60)
        await session.commit()
    await api.runtime.flags.refresh(api.runtime.database)

    refused = await api.http.get("/customers", auth=tenant.auth)
    health = await api.http.get("http://testserver/healthz")

    body = assert_envelope(refused, 503, "503.001")
    assert body["message"] == "Upgrading."
    assert refused.headers["Retry-After"] == "60"
    assert health.status_code == 200

    async with api.runtime.database.sessions() as session:
        await operations.set_maintenance(session, False)
        await session.commit()
    await api.runtime.flags.refresh(api.runtime.database)
    assert (await api.http.get("/customers", auth=tenant.auth)).status_code == 200


async def test_production_logs_are_one_json_object_per_line_with_request_id(
    api: Api, tenant: Tenant, capfd: pytest.CaptureFixture[str]
) -> None:
    log.configure(json=True)
    try:
        capfd.readouterr()
        response = await api.http.get("/customers", auth=tenant.auth)
        log.flush()  # the lines wait for the end of the loop's step
        lines = capfd.readouterr().err.strip().splitlines()
    finally:
        log.configure(json=False)

    events = [json.loads(line) for line in lines]
    done = next(e for e in events if e["event"] == "request.done")
    assert done["request_id"] == response.headers["X-REQUEST-ID"]
    assert done["platform"] == tenant.platform
    assert done["status"] == 200
    assert isinstance(done["duration_ms"], float)
    assert tenant.key not in "\n".join(lines)
