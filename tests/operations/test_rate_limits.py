"""Per-platform token buckets: in process, in Redis, and Redis going away."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from asyncorders.api.deps import Runtime
from asyncorders.platforms import service as platforms
from asyncorders.ratelimit import Limit, MemoryBuckets, RedisBuckets
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant

pytestmark = pytest.mark.anyio

REDIS_URL = "redis://127.0.0.1:6379/0"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


async def limit_platform(runtime: Runtime, name: str, rate: float, burst: int) -> None:
    async with runtime.database.sessions() as session:
        await platforms.set_rate_limit(session, name, rate, burst)
        await session.commit()


async def test_requests_beyond_the_burst_answer_429_with_retry_after(
    api: Api, tenant: Tenant
) -> None:
    await limit_platform(api.runtime, tenant.platform, rate=1, burst=3)

    answers = [await api.http.get("/customers", auth=tenant.auth) for _ in range(5)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert_envelope(refused, 429, "429.001")
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Policy"] == '"platform";q=3;w=3'
    assert re.fullmatch(r'"platform";r=0;t=\d+', refused.headers["RateLimit"])


async def test_successful_answers_carry_the_rate_limit_fields(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get("/customers", auth=tenant.auth)

    assert response.status_code == 200
    assert response.headers["RateLimit-Policy"] == '"platform";q=200;w=2'
    assert response.headers["RateLimit"].startswith('"platform";r=199;')


async def test_each_platform_has_its_own_bucket(api: Api, tenant: Tenant) -> None:
    from tests.factories import make_tenant

    other = await make_tenant(api.runtime, "other")
    await limit_platform(api.runtime, tenant.platform, rate=1, burst=1)

    first = await api.http.get("/customers", auth=tenant.auth)
    second = await api.http.get("/customers", auth=tenant.auth)
    others = await api.http.get("/customers", auth=other.auth)

    assert (first.status_code, second.status_code, others.status_code) == (
        200,
        429,
        200,
    )


async def test_memory_bucket_refills_at_its_rate() -> None:
    buckets = MemoryBuckets()
    limit = Limit(rate=50, burst=2)

    taken = [(await buckets.take("k", limit)).allowed for _ in range(3)]
    await asyncio.sleep(0.05)
    later = await buckets.take("k", limit)

    assert taken == [True, True, False]
    assert later.allowed


async def test_redis_buckets_are_shared_between_limiters() -> None:
    key = f"test-{uuid.uuid4().hex}"
    one, two = RedisBuckets(REDIS_URL), RedisBuckets(REDIS_URL)
    limit = Limit(rate=0.5, burst=4)
    try:
        decisions = [await (one if n % 2 else two).take(key, limit) for n in range(6)]
    finally:
        await one.close()
        await two.close()

    assert [d.allowed for d in decisions] == [True] * 4 + [False] * 2
    assert decisions[-1].retry_after >= 1


async def test_unreachable_redis_falls_back_to_per_process_buckets(
    capfd: pytest.CaptureFixture[str],
) -> None:
    limiter = RedisBuckets(UNREACHABLE_REDIS)
    limit = Limit(rate=1, burst=2)
    try:
        decisions = [await limiter.take("k", limit) for _ in range(3)]
    finally:
        await limiter.close()

    assert [d.allowed for d in decisions] == [True, True, False]
    logged = capfd.readouterr()
    assert (logged.out + logged.err).count("ratelimit.redis_unavailable") == 1


async def test_concurrent_redis_takes_share_one_bucket_exactly() -> None:
    key = f"test-{uuid.uuid4().hex}"
    limiter = RedisBuckets(REDIS_URL)
    limit = Limit(rate=0.5, burst=5)
    try:
        decisions = await asyncio.gather(*(limiter.take(key, limit) for _ in range(8)))
    finally:
        await limiter.close()

    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 3
    assert [int(d.remaining) for d in decisions[:5]] == [4, 3, 2, 1, 0]
