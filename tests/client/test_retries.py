"""Retries against a real server behind a loopback proxy that fails on request:
429 and 503 wait what `Retry-After` says, 5xx and lost connections back off,
and a repeated create never makes a second order."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from asyncorders.client import (
    ApiError,
    AsyncClient,
    Client,
    ConnectionLost,
    RateLimited,
    RetryPolicy,
    ServerError,
    Timeout,
    Unavailable,
    ValidationError,
)
from asyncorders.client._errors import ConnectError, parse_retry_after
from asyncorders.client._models import ErrorEnvelope
from tests.client.proxy import Fault, Plan, fault_proxy
from tests.conftest import Api
from tests.factories import Tenant, order_body
from tests.operations.test_rate_limits import limit_platform
from tests.servers import server_env

pytestmark = pytest.mark.anyio

RATE_LIMITED = Fault("simulate", "rate-limit")
UNAVAILABLE = Fault("simulate", "unavailable")
SERVER_ERROR = Fault("simulate", "server-error")
DROP = Fault("drop")
FLAG_PROPAGATION = 1.6  # every process re-reads maintenance mode each second


@pytest.fixture
def retries(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="asyncorders.client"):
        yield caplog


def retry_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.client  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "asyncorders.client"
    ]


def client_for(url: str, tenant: Tenant, waits: list[float], **kw: Any) -> Client:
    options: dict[str, Any] = {"sleep": waits.append, "rand": lambda: 0.0, **kw}
    return Client(url, auth=(tenant.platform, tenant.key), **options)


@contextmanager
def proxied(
    live_url: str, tenant: Tenant, waits: list[float], *faults: Fault, **kw: Any
) -> Iterator[tuple[Client, Plan]]:
    """A client through a fault proxy, recording its waits in `waits`."""
    with (
        fault_proxy(live_url, *faults) as (url, plan),
        client_for(url, tenant, waits, **kw) as client,
    ):
        yield client, plan


def failed_attempts(plan: Plan) -> list[str | None]:
    return [seen.answer_request_id for seen in plan.seen if seen.fault is not None]


# ---- refusals: 429 and 503 -----------------------------------------------------


async def test_429_twice_then_success_waits_retry_after_each_time(
    live_url: str, tenant: Tenant, retries: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    with proxied(live_url, tenant, waits, RATE_LIMITED, RATE_LIMITED) as (client, plan):
        customer = client.get_customer(tenant.customer)

    assert customer.customerIdentifier == tenant.customer
    assert [seen.status for seen in plan.seen] == [429, 429, 200]
    assert waits == [1.0, 1.0], "the server's Retry-After: 1, no backoff on top"
    events = retry_events(retries)
    assert [e["reason"] for e in events] == ["429 429.001"] * 2
    assert [e["request_id"] for e in events] == failed_attempts(plan)
    assert [e["attempt"] for e in events] == [1, 2]
    assert tenant.key not in retries.text


async def test_503_on_a_create_is_retried_and_makes_one_customer(
    live_url: str, tenant: Tenant, retries: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    with proxied(live_url, tenant, waits, UNAVAILABLE) as (client, plan):
        client.create_customer("retry-hq", "Retry HQ")
        customers = client.list_customers()

    assert [seen.status for seen in plan.seen[:2]] == [503, 201]
    assert waits == [1.0]
    assert [c.customerIdentifier for c in customers].count("retry-hq") == 1
    assert retry_events(retries)[0]["reason"] == "503 503.002"


async def test_refusals_beyond_max_attempts_raise_the_last_one(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    faults = [RATE_LIMITED] * 5
    policy = RetryPolicy(max_attempts=3)
    with (
        proxied(live_url, tenant, waits, *faults, retry=policy) as (client, plan),
        pytest.raises(RateLimited) as raised,
    ):
        client.list_customers()

    assert len(plan.seen) == 3
    assert waits == [1.0, 1.0]
    assert raised.value.request_id == plan.seen[-1].answer_request_id


async def test_a_real_retry_after_is_waited_out(
    api: Api, live_url: str, tenant: Tenant, retries: pytest.LogCaptureFixture
) -> None:
    await limit_platform(api.runtime, tenant.platform, rate=1, burst=1)
    with Client(live_url, auth=(tenant.platform, tenant.key)) as client:
        started = time.monotonic()
        client.list_customers()
        client.list_customers()  # the bucket is empty: 429, Retry-After: 1
        elapsed = time.monotonic() - started

    events = retry_events(retries)
    assert len(events) >= 1
    assert events[0]["reason"] == "429 429.001"
    assert events[0]["wait_seconds"] == 1.0
    assert elapsed >= 1.0 * len(events)


async def test_maintenance_mode_is_waited_out_for_as_long_as_it_asks(
    api: Api, live_url: str, tenant: Tenant, retries: pytest.LogCaptureFixture
) -> None:
    env = server_env(api.settings)

    def maintenance(*args: str) -> None:
        command = [sys.executable, "-m", "asyncorders", "maintenance", *args]
        subprocess.run(command, env=env, check=True, capture_output=True)
        time.sleep(FLAG_PROPAGATION)

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        maintenance("off")  # the operator ends it while the client waits

    maintenance("on", "--retry-after", "7")
    auth = (tenant.platform, tenant.key)
    try:
        with Client(live_url, auth=auth, sleep=sleep) as client:
            customers = client.list_customers()
    finally:
        maintenance("off")

    assert [c.customerIdentifier for c in customers] == [tenant.customer]
    assert waits == [7.0]
    assert retry_events(retries)[0]["reason"] == "503 503.001"


# ---- server errors: backoff, only for what is safe to repeat --------------------


async def test_server_errors_on_a_read_back_off_exponentially(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    faults = [SERVER_ERROR] * 3
    with proxied(live_url, tenant, waits, *faults) as (client, _):
        client.get_account(tenant.account)

    assert waits == [0.5, 1.0, 2.0]


async def test_jitter_takes_up_to_half_of_each_backoff(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    faults = [SERVER_ERROR] * 2
    with proxied(live_url, tenant, waits, *faults, rand=lambda: 1.0) as (client, _):
        client.get_account(tenant.account)

    assert waits == [0.25, 0.5]


async def test_a_server_error_on_a_customer_create_is_not_repeated(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    with (
        proxied(live_url, tenant, waits, SERVER_ERROR) as (client, plan),
        pytest.raises(ServerError),
    ):
        client.create_customer("once-hq", "Once HQ")

    assert len(plan.seen) == 1
    assert waits == []


# ---- lost answers --------------------------------------------------------------


async def test_a_create_whose_answer_is_lost_makes_exactly_one_order(
    live_url: str, tenant: Tenant, retries: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    with proxied(live_url, tenant, waits, DROP) as (client, plan):
        order = client.create_order(order_body(tenant, "lost-1"))
        orders = list(client.iter_orders())
        account = client.get_account(tenant.account)
        history = client.get_history(tenant.customer, tenant.account, "lost-1")

    assert [seen.status for seen in plan.seen[:2]] == [202, 200]
    assert not order.created, "the retry found the original order"
    assert [o.externalRefID for o in orders] == ["lost-1"]
    assert [o.referenceOrderID for o in orders] == [order.referenceOrderID]
    assert account.currentBalance == Decimal("9975.00"), "charged once"
    assert [e.type for e in history.events] == ["ORDER_CREATED"]
    assert waits == [0.5]
    assert retry_events(retries)[0]["reason"] == "ConnectionLost"
    assert retry_events(retries)[0]["request_id"] == plan.seen[0].request_id


async def test_async_create_whose_answer_is_lost_makes_exactly_one_order(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    auth = (tenant.platform, tenant.key)
    with fault_proxy(live_url, DROP, RATE_LIMITED) as (url, plan):
        async with AsyncClient(url, auth=auth, sleep=sleep, rand=lambda: 0) as client:
            order = await client.create_order(order_body(tenant, "lost-2"))
            orders = [o async for o in client.iter_orders()]

    assert [seen.status for seen in plan.seen[:3]] == [202, 429, 200]
    assert not order.created
    assert [o.externalRefID for o in orders] == ["lost-2"]
    assert waits == [0.5, 1.0]


async def test_a_patch_whose_answer_is_lost_is_applied_once(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    path = (tenant.customer, tenant.account, "lost-3")
    with proxied(live_url, tenant, waits, DROP) as (client, plan):
        client.create_order(order_body(tenant, "lost-3", notes="before"))
        plan.faults.append(DROP)
        updated = client.patch_order(*path, {"notes": "after"})
        history = client.get_history(*path)

    assert updated.notes == "after"
    assert [e.type for e in history.events] == ["METADATA_UPDATED", "ORDER_CREATED"]
    assert waits == [0.5, 0.5]


async def test_a_customer_create_whose_answer_is_lost_is_not_repeated(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    with proxied(live_url, tenant, waits, DROP) as (client, plan):
        with pytest.raises(ConnectionLost) as raised:
            client.create_customer("lost-hq", "Lost HQ")
        found = client.get_customer("lost-hq")

    assert raised.value.sent
    assert len(plan.seen) == 2, "the create once, then the read"
    assert found.customerIdentifier == "lost-hq", "the server did it"
    assert waits == []


async def test_a_connection_refused_before_forwarding_is_retried_for_reads(
    live_url: str, tenant: Tenant
) -> None:
    waits: list[float] = []
    with proxied(live_url, tenant, waits, Fault("refuse")) as (client, plan):
        customers = client.list_customers()

    assert customers
    assert len(plan.seen) == 2
    assert waits == [0.5]


# ---- the policy on its own -----------------------------------------------------


def api_error(kind: type[ApiError], status: int, **headers: str) -> ApiError:
    return kind(
        ErrorEnvelope(httpCode=status),
        status_code=status,
        headers=httpx.Headers({k.replace("_", "-"): v for k, v in headers.items()}),
    )


def lost() -> ConnectionLost:
    return ConnectionLost("lost", method="POST", url="http://x")


DELAYS: list[tuple[str, Any, bool, int, float | None]] = [
    (
        "429 any request",
        api_error(RateLimited, 429, **{"Retry-After": "3"}),
        False,
        1,
        3,
    ),
    (
        "429 too long",
        api_error(RateLimited, 429, **{"Retry-After": "61"}),
        True,
        1,
        None,
    ),
    ("429 no header", api_error(RateLimited, 429), True, 1, 1.0),
    ("503", api_error(Unavailable, 503, RETRY_AFTER="30"), False, 2, 30),
    ("500 read", api_error(ServerError, 500), True, 3, 2.0),
    ("500 capped", api_error(ServerError, 500), True, 10, None),
    ("502 create", api_error(ServerError, 502), False, 1, None),
    ("400", api_error(ValidationError, 400), True, 1, None),
    ("lost read", lost(), True, 1, 0.5),
    ("lost create", lost(), False, 1, None),
    ("timeout", Timeout("slow", method="GET", url="http://x"), True, 2, 1.0),
    ("not sent", ConnectError("no", method="POST", url="http://x"), False, 1, 0.5),
]


@pytest.mark.parametrize(
    ("error", "idempotent", "attempt", "wait"),
    [pytest.param(*row[1:], id=row[0]) for row in DELAYS],
)
def test_the_policy_waits_only_when_repeating_is_safe(
    error: Any, idempotent: bool, attempt: int, wait: float | None
) -> None:
    policy = RetryPolicy(max_attempts=10, backoff_max=4.0)

    assert policy.delay(attempt, error, idempotent=idempotent, rand=lambda: 0) == wait


def test_retry_after_reads_seconds_and_http_dates() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)

    assert parse_retry_after("7") == 7.0
    assert 28 <= (parse_retry_after(format_datetime(later, usegmt=True)) or 0) <= 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
