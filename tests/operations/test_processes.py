"""Behaviour across real API processes on PostgreSQL: shared rate limits,
maintenance mode, and Redis going away."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from asyncorders.settings import Settings
from tests.conftest import Api
from tests.factories import Tenant
from tests.operations.test_rate_limits import REDIS_URL, limit_platform
from tests.servers import server_env, serving

pytestmark = pytest.mark.anyio

RATE, BURST = 5.0, 10


def postgres_only(api: Api) -> None:
    if api.runtime.database.is_sqlite:
        pytest.skip("several API processes are a PostgreSQL deployment")


def two_servers(settings: Settings, tmp: Path, **env: str) -> Iterator[list[str]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(serving(settings, tmp / f"api-{n}.log", **env))
            for n in range(2)
        ]


async def test_two_processes_share_one_platform_bucket_through_redis(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    postgres_only(api)
    await limit_platform(api.runtime, tenant.platform, rate=RATE, burst=BURST)

    for bases in two_servers(api.settings, tmp_path, redis_url=REDIS_URL):
        async with httpx.AsyncClient(auth=tenant.auth) as http:
            started = time.monotonic()
            answers = []
            for _ in range(20):  # a burst from both sides, in pairs
                answers += await asyncio.gather(
                    *(http.get(f"{base}/raas/v2/customers") for base in bases)
                )
            elapsed = time.monotonic() - started

    admitted = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(admitted) + len(refused) == 40
    # One bucket for the platform: never more than the burst plus what refilled
    # (two per-process buckets would have admitted twice the burst).
    assert len(admitted) <= BURST + RATE * elapsed + 1
    assert len(admitted) < 2 * BURST
    assert refused
    assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    assert {str(a.url).split("/raas")[0] for a in admitted} == set(bases)


async def test_maintenance_mode_reaches_every_process_within_two_seconds(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    postgres_only(api)
    env = server_env(api.settings)

    def switch(state: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "asyncorders", "maintenance", state],
            env=env,
            check=True,
            capture_output=True,
        )

    for bases in two_servers(api.settings, tmp_path):
        async with httpx.AsyncClient(auth=tenant.auth) as http:
            switch("on")
            await asyncio.sleep(2.0)
            during = [await http.get(f"{b}/raas/v2/customers") for b in bases]
            health = [await http.get(f"{b}/healthz") for b in bases]
            switch("off")
            await asyncio.sleep(2.0)
            after = [await http.get(f"{b}/raas/v2/customers") for b in bases]

    assert [a.status_code for a in during] == [503, 503]
    assert all(a.json()["i18nKey"] == "503.001" for a in during)
    assert all(a.headers["Retry-After"] == "30" for a in during)
    assert [h.status_code for h in health] == [200, 200]
    assert [a.status_code for a in after] == [200, 200]


async def test_requests_succeed_while_redis_is_stopped(
    api: Api, tenant: Tenant, tmp_path: Path
) -> None:
    postgres_only(api)
    for bases in two_servers(api.settings, tmp_path, redis_url=REDIS_URL):
        async with httpx.AsyncClient(auth=tenant.auth) as http:
            before = await http.get(f"{bases[0]}/raas/v2/customers")
            with redis_stopped():
                during = [
                    await http.get(f"{bases[n % 2]}/raas/v2/customers")
                    for n in range(6)
                ]
            await asyncio.sleep(0.2)
            after = await http.get(f"{bases[1]}/raas/v2/customers")

    assert before.status_code == 200
    assert [a.status_code for a in during] == [200] * 6
    assert after.status_code == 200
    assert "ratelimit.redis_unavailable" in read_logs(tmp_path)


def read_logs(folder: Path) -> str:
    return "".join(log.read_text() for log in sorted(folder.glob("api-*.log")))


SERVICES_UP = Path(__file__).parents[2] / "scripts" / "services-up"


class redis_stopped:
    """Stop the local Redis server; start it again whatever happens."""

    def __enter__(self) -> None:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"],
            capture_output=True,
            check=False,
        )
        _wait(lambda: not _redis_up())

    def __exit__(self, *_: object) -> None:
        subprocess.run(["bash", str(SERVICES_UP)], check=True)
        _wait(_redis_up)


def _redis_up() -> bool:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True, check=False
    )
    return done.stdout.strip() == b"PONG"


def _wait(condition: object, within: float = 15) -> None:
    assert callable(condition)
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("Redis did not change state in time")
        time.sleep(0.1)


async def test_metrics_of_several_processes_add_up(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    postgres_only(api)
    shared = tmp_path / "metrics"
    shared.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    log = tmp_path / "api-many.log"
    with serving(api.settings, log, "--processes", "2") as base:
        fresh_connections = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=fresh_connections) as http:
            # The kernel picks which process accepts a connection; send rounds of
            # requests (401s, counted like any answer) until both have counted.
            sent = 0
            deadline = time.monotonic() + 30
            while len(_writers(shared)) < 2 and time.monotonic() < deadline:
                await asyncio.gather(
                    *(http.get(f"{base}/raas/v2/customers") for _ in range(20))
                )
                sent += 20
            scrapes = [await http.get(f"{base}/metrics") for _ in range(4)]

    assert len(_writers(shared)) >= 2, "two processes counted requests"
    pattern = re.compile(
        r'asyncorders_requests_total\{method="GET",route="/raas/v2/customers",'
        r'status="401"\} ([0-9.]+)'
    )
    found = [pattern.search(scrape.text) for scrape in scrapes]
    totals = {float(match.group(1)) for match in found if match}
    assert all(found)
    assert totals == {float(sent)}, "every scrape sums all processes"


def _writers(shared: Path) -> set[str]:
    """The process ids that wrote counters into the shared metrics folder."""
    return {path.stem.rsplit("_", 1)[-1] for path in shared.glob("counter_*.db")}
