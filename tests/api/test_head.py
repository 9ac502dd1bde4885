"""HEAD answers as GET does, without the body (RFC 9110 section 9.3.2)."""

from __future__ import annotations

import asyncio
import base64
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant, create_order

pytestmark = pytest.mark.anyio


async def test_head_of_an_order_has_the_get_answers_head(
    api: Api, tenant: Tenant
) -> None:
    await create_order(api.http, tenant, "h1")
    url = tenant.order_url("h1")

    got = await api.http.get(url, auth=tenant.auth)
    head = await api.http.head(url, auth=tenant.auth)

    assert got.status_code == head.status_code == 200
    for name in ("content-type", "content-length", "etag"):
        assert head.headers[name] == got.headers[name]
    assert head.headers["x-request-id"] != got.headers["x-request-id"]


async def test_head_of_health_answers_without_credentials(api: Api) -> None:
    response = await api.http.head("http://testserver/healthz")
    assert response.status_code == 200


async def test_head_needs_the_credentials_get_needs(api: Api) -> None:
    response = await api.http.head("/customers")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_a_405_names_head_where_get_is_allowed(api: Api, tenant: Tenant) -> None:
    response = await api.http.put("/customers", json={}, auth=tenant.auth)

    assert_envelope(response, 405, "405.001")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert {"GET", "HEAD", "POST"} <= allowed


async def test_the_server_sends_no_body_for_head(live_url: str, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=live_url, auth=tenant.auth) as http:
        got = await http.get("/customers")
    assert got.status_code == 200
    assert got.content

    address = urlsplit(live_url)
    token = base64.b64encode(f"{tenant.platform}:{tenant.key}".encode())
    request = (
        (
            f"HEAD {address.path}/customers HTTP/1.1\r\nhost: test\r\n"
            "connection: close\r\n"
        ).encode()
        + b"authorization: Basic "
        + token
        + b"\r\n\r\n"
    )
    received = await asyncio.to_thread(
        _until_closed, address.hostname or "", address.port or 80, request
    )

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"content-length: {len(got.content)}".encode() in head.lower()
    assert body == b""


def _until_closed(host: str, port: int, request: bytes) -> bytes:
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


async def test_head_is_counted_under_its_route(api: Api, tenant: Tenant) -> None:
    await create_order(api.http, tenant, "h3")
    await api.http.head(tenant.order_url("h3"), auth=tenant.auth)

    scrape = await api.http.get(
        "http://testserver/metrics", headers={"Accept": "text/plain"}
    )
    counted = [
        line
        for line in scrape.text.splitlines()
        if line.startswith("asyncorders_requests_total{") and 'method="HEAD"' in line
    ]
    assert counted
    assert all("unmatched" not in line for line in counted)
    assert any("{externalRefID}" in line for line in counted)
