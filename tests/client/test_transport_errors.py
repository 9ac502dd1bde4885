"""The one choke point: every httpx failure becomes the client's own error.

The failures are raised by an httpx transport standing in for the network
(there is no server in these tests: what is tested is the translation).
"""

from __future__ import annotations

import httpx
import pytest

from asyncorders.client import (
    AsyncClient,
    Client,
    ClientError,
    ConnectError,
    ConnectionLost,
    RetryPolicy,
    Timeout,
    TransportError,
    UnexpectedResponse,
)

pytestmark = pytest.mark.anyio

FAILURES: list[tuple[type[httpx.HTTPError], type[TransportError], bool]] = [
    (httpx.ConnectError, ConnectError, False),
    (httpx.ConnectTimeout, ConnectError, False),
    (httpx.PoolTimeout, ConnectError, False),
    (httpx.ReadTimeout, Timeout, True),
    (httpx.WriteTimeout, Timeout, True),
    (httpx.ReadError, ConnectionLost, True),
    (httpx.WriteError, ConnectionLost, True),
    (httpx.RemoteProtocolError, ConnectionLost, True),
    (httpx.DecodingError, TransportError, True),
]


def failing(kind: type[httpx.HTTPError]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise kind("the network failed", request=request)  # type: ignore[call-arg]

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("failure", "kind", "sent"),
    [pytest.param(*row, id=row[0].__name__) for row in FAILURES],
)
def test_a_transport_failure_becomes_a_client_error(
    failure: type[httpx.HTTPError], kind: type[TransportError], sent: bool
) -> None:
    client = Client(
        "http://api.invalid/raas/v2",
        auth=("acme", "secret-key"),
        retry=RetryPolicy(max_attempts=1),
        transport=failing(failure),
    )
    with client, pytest.raises(ClientError) as raised:
        client.get_account("acme-main")

    assert type(raised.value) is kind
    assert raised.value.sent is sent
    assert raised.value.method == "GET"
    assert raised.value.url == "http://api.invalid/raas/v2/accounts/acme-main"
    assert isinstance(raised.value.__cause__, failure)
    assert "secret-key" not in str(raised.value)


async def test_the_async_client_translates_at_the_same_place() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("reset", request=request)

    client = AsyncClient(
        "http://api.invalid/raas/v2",
        retry=RetryPolicy(max_attempts=1),
        transport=httpx.MockTransport(handler),
    )
    async with client:
        with pytest.raises(ConnectionLost):
            await client.list_customers()


def test_a_success_answer_that_is_not_json_is_unexpected() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, text="<html>hello</html>", headers={"X-REQUEST-ID": "rid-1"}
        )
    )
    client = Client("http://api.invalid", transport=transport)
    with client, pytest.raises(UnexpectedResponse) as raised:
        client.get_customer("acme-hq")

    assert raised.value.status_code == 200
    assert raised.value.request_id == "rid-1"
