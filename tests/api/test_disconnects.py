"""A client that goes away before its body has arrived gets no answer and is
logged as gone, not as a failure of ours."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.types import Message

from asyncorders import log
from asyncorders.api.app import create_app
from tests.conftest import Api
from tests.factories import Tenant

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/raas/v2/asyncOrders"),  # a FastAPI route
        ("PATCH", "/raas/v2/asyncOrders/customers/c1234/accounts/a1234/o1"),  # hot
    ],
)
async def test_a_client_gone_mid_body_is_logged_as_gone_and_not_answered(
    api: Api,
    tenant: Tenant,
    capfd: pytest.CaptureFixture[str],
    method: str,
    path: str,
) -> None:
    app = create_app(api.settings)
    app.state.runtime = api.runtime
    token = base64.b64encode(f"{tenant.platform}:{tenant.key}".encode())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
            (b"authorization", b"Basic " + token),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    arriving: list[Message] = [
        {"type": "http.request", "body": b'{"exter', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return arriving.pop(0) if arriving else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    log.configure(json=True)
    try:
        capfd.readouterr()
        await app(scope, receive, send)
        log.flush()  # the lines wait for the end of the loop's step
        lines = capfd.readouterr().err.strip().splitlines()
    finally:
        log.configure(json=False)

    events = [json.loads(line)["event"] for line in lines]
    assert "request.client_disconnected" in events
    assert "request.failed" not in events
    assert [m for m in sent if m["type"] == "http.response.start"] == []
