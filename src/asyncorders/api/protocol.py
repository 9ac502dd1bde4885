"""uvicorn's HTTP protocol (httptools), sending each answer in one write.

uvicorn writes a response's status line and headers as soon as the application
starts the response, and its body as a second write. On a small answer that is
two system calls and two TCP segments, each waking the client, where one would
do. `OneWriteHttp` holds the head back until the body's first write, which
follows it in the same step of the event loop when the answer is not streamed,
and sends both together. Whatever is still held when that step ends (the head
of a streamed answer whose body is not ready, an interim `100 Continue`) is
sent then, so nothing waits longer than the current loop iteration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWriteHttp(HttpToolsProtocol):
    """`serve`'s HTTP protocol: uvicorn's own, over `_JoinedWrites`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        joined = _JoinedWrites(transport, self.loop)
        super().connection_made(cast(asyncio.Transport, joined))


class _JoinedWrites:
    """A transport that joins a write with the one after it, if that follows
    before the event loop's next iteration; everything else goes straight to
    the socket's transport."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(
        self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)  # the caller may reuse a buffer it passed
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        self.write(b"".join(chunks))

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
