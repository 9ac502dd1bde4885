"""PostgreSQL stopped under a running service: 503 with Retry-After, never 500,
and recovery without a restart once it is back."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_ADMIN_URL, Api
from tests.factories import Tenant, order_body
from tests.servers import serving

pytestmark = pytest.mark.anyio


class postgres_stopped:
    """Stop the local PostgreSQL cluster; start it again whatever happens."""

    def __enter__(self) -> None:
        _cluster("stop", "-m", "fast")

    def __exit__(self, *_: object) -> None:
        _cluster("start")
        deadline = time.monotonic() + 60
        port = str(make_url(POSTGRES_ADMIN_URL).port or 5432)
        while subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", port], check=False
        ).returncode:
            if time.monotonic() > deadline:
                raise TimeoutError("PostgreSQL did not come back")
            time.sleep(0.2)


def _cluster(action: str, *options: str) -> None:
    """Act on the cluster that serves the test database's port."""
    port = str(make_url(POSTGRES_ADMIN_URL).port or 5432)
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True
    )
    version, name = next(
        (row.split()[0], row.split()[1])
        for row in listing.stdout.splitlines()
        if row.split()[2] == port
    )
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action]
    subprocess.run([*command, *options], check=True, capture_output=True)


async def test_database_outage_answers_503_and_recovers_by_itself(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    if api.runtime.database.is_sqlite:
        pytest.skip("stops the PostgreSQL server")
    await api.runtime.database.dispose()  # the test's own pool must not hold on

    with serving(api.settings, tmp_path / "api.log", db_pool_timeout="2") as base:
        url = f"{base}/raas/v2"
        async with httpx.AsyncClient(auth=tenant.auth, timeout=30) as http:
            accepted = [
                await http.post(f"{url}/asyncOrders", json=order_body(tenant, f"b{n}"))
                for n in range(3)
            ]
            with postgres_stopped():
                during = []
                for n in range(4):
                    during += [
                        await http.get(f"{url}/customers"),
                        await http.post(
                            f"{url}/asyncOrders", json=order_body(tenant, f"d{n}")
                        ),
                        await http.patch(
                            f"{url}{tenant.order_url('b0')}", json={"notes": "x"}
                        ),
                    ]
                readiness = await http.get(f"{base}/readyz")
            recovered = await _first_success(http, f"{url}/customers")
            after = await http.post(f"{url}/asyncOrders", json=order_body(tenant, "a1"))
            kept = [
                await http.get(f"{url}{tenant.order_url(f'b{n}')}") for n in range(3)
            ]

    assert [a.status_code for a in accepted] == [202, 202, 202]
    assert {a.status_code for a in during} == {503}
    for answer in during:
        assert answer.headers["Retry-After"]
        assert answer.json()["i18nKey"] == "503.002"
    assert readiness.status_code == 503
    assert recovered < 30
    assert after.status_code == 202
    assert [k.status_code for k in kept] == [200, 200, 200]


async def _first_success(http: httpx.AsyncClient, url: str) -> float:
    """Seconds until the service answers 200 again (no 500 on the way)."""
    started = time.monotonic()
    while True:
        answer = await http.get(url)
        assert answer.status_code != 500, answer.text
        if answer.status_code == 200:
            return time.monotonic() - started
        if time.monotonic() - started > 30:
            raise TimeoutError(answer.text)
        await asyncio.sleep(0.2)
