"""`serve`'s HTTP protocol sends an answer's head and body in one write, and
every answer still arrives whole: small, streamed, closing, and many on one
connection. The server is uvicorn on loopback with the protocol `serve` names."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from asyncorders.api.protocol import OneWriteHttp
from tests.servers import free_port

pytestmark = pytest.mark.anyio


async def small(scope: Scope, receive: Receive, send: Send) -> None:
    await _read_body(receive)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
    if scope["path"] == "/close":
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})


def streamed(head_seen: asyncio.Event) -> Any:
    """The head, then (once the client has it) three chunks, with the event
    loop turning in between."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.wait_for(head_seen.wait(), timeout=10)
        await _chunks(send)

    return app


async def _chunks(send: Send) -> None:
    for chunk in (b"one,", b"two,", b"three"):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive) -> None:
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)


class _Counting:
    """The socket's transport, counting the writes that reach it."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(data)
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[tuple[str, list[bytes]]]:
    """uvicorn with `serve`'s protocol on loopback; yields its address and the
    writes its sockets received."""
    writes: list[bytes] = []

    class Counted(OneWriteHttp):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            counting = _Counting(transport, writes)
            super().connection_made(cast(asyncio.Transport, counting))

    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=Counted,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):  # uvicorn sets a flag, no event; 10 s at most
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}", writes
    finally:
        server.should_exit = True
        await task


async def test_a_small_answer_is_one_write() -> None:
    async with serving(small) as (base, writes), httpx.AsyncClient() as client:
        for _ in range(3):  # one connection, kept alive
            response = await client.patch(f"{base}/x", json={"notes": "n"})
            assert response.status_code == 200
            assert response.json() == {"ok": True}
    assert len(writes) == 3
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") for w in writes)
    assert all(w.endswith(b'\r\n\r\n{"ok":true}') for w in writes)


async def test_a_streamed_answer_sends_its_head_before_the_body_is_ready() -> None:
    head_seen = asyncio.Event()
    async with (
        serving(streamed(head_seen)) as (base, writes),
        httpx.AsyncClient(timeout=3) as client,
        client.stream("GET", f"{base}/stream") as response,
    ):
        assert response.status_code == 200  # the head came alone, in time
        assert len(writes) == 1
        assert writes[0].endswith(b"\r\n\r\n")
        head_seen.set()
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    assert body == b"one,two,three"


async def test_a_closing_answer_is_sent_before_the_connection_closes() -> None:
    async with serving(small) as (base, writes):
        port = int(base.rsplit(":", 1)[1])
        received = await asyncio.to_thread(_raw_request, port, b"/close")
    assert received.endswith(b'\r\n\r\n{"ok":true}')
    assert b"connection: close" in received
    assert len(writes) == 1


async def test_pipelined_requests_are_all_answered_in_order() -> None:
    async with serving(small) as (base, writes):
        port = int(base.rsplit(":", 1)[1])
        received = await asyncio.to_thread(_raw_request, port, b"/a", b"/b", b"/close")
    assert received.count(b"HTTP/1.1 200 OK") == 3
    assert received.count(b'{"ok":true}') == 3
    assert len(writes) == 3


def _raw_request(port: int, *paths: bytes) -> bytes:
    """Send the GETs of `paths` at once on one socket; read until it closes."""
    requests = (b"GET " + path + b" HTTP/1.1\r\nhost: test\r\n\r\n" for path in paths)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"".join(requests))
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received
