"""Sandbox fault injection (contract section 8): `X-Simulate` on one request.

`rate-limit`, `unavailable` and `server-error` answer 429, 503 and 500 with the
normal envelope and headers; `latency=<ms>` waits first, then serves the request.
Installed only in sandbox mode, so production ignores the header entirely.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

from asyncorders.errors import (
    AsyncOrdersError,
    FieldError,
    RateLimited,
    StorageUnavailable,
    ValidationFailed,
)

HEADER = b"x-simulate"
MAX_LATENCY_MS = 30_000


class SimulatedServerError(AsyncOrdersError):
    default_message = "Simulated server error (X-Simulate: server-error)."


class Simulation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == HEADER:
                    await _simulate(value.decode("latin-1").strip().lower())
                    break
        await self.app(scope, receive, send)


async def _simulate(wanted: str) -> None:
    if wanted == "rate-limit":
        raise RateLimited("Simulated rate limit (X-Simulate: rate-limit).")
    if wanted == "unavailable":
        raise StorageUnavailable("Simulated outage (X-Simulate: unavailable).")
    if wanted == "server-error":
        raise SimulatedServerError()
    name, _, milliseconds = wanted.partition("=")
    if name == "latency" and milliseconds.isdigit():
        await asyncio.sleep(min(int(milliseconds), MAX_LATENCY_MS) / 1000)
        return
    raise ValidationFailed(
        [
            FieldError(
                "X-Simulate",
                "400.002",
                "X-Simulate takes rate-limit, unavailable, server-error or "
                "latency=<ms>.",
                invalid_value=wanted,
                constraint="Enum",
            )
        ]
    )
