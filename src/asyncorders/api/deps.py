"""Request dependencies: the runtime, the database session, the caller, the body."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.api import envelope
from asyncorders.api.flags import FlagWatch
from asyncorders.api.middleware import LOG_FIELDS, RATE_LIMIT_HEADERS
from asyncorders.errors import AuthenticationFailed, Maintenance, RateLimited
from asyncorders.fulfilment.credentials import Vault
from asyncorders.fulfilment.worker import make_vault
from asyncorders.orders.group_commit import GroupCommit
from asyncorders.platforms import service as platforms
from asyncorders.platforms.service import Caller
from asyncorders.ratelimit import Buckets, Limit, MemoryBuckets
from asyncorders.settings import Settings
from asyncorders.storage.engine import Database

M = TypeVar("M", bound=BaseModel)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Runtime:
    """What the application holds for its lifetime."""

    settings: Settings
    database: Database
    secret: bytes
    limiter: Buckets = field(default_factory=MemoryBuckets)
    flags: FlagWatch = field(default_factory=FlagWatch)

    @cached_property
    def patches(self) -> GroupCommit:
        """Commits concurrent PATCHes of the hot route together."""
        return GroupCommit(self.database, self.secret)

    @cached_property
    def vault(self) -> Vault:
        """Decrypts reward credentials for the line-items view."""
        return make_vault(self.settings)


# Dependencies are `async def` even when they never wait: FastAPI runs a plain
# `def` in its thread pool, a trip per dependency that buys nothing here.


async def runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def open_for_business(runtime: Annotated[Runtime, Depends(runtime)]) -> None:
    """Every API route answers 503 while the deployment is in maintenance."""
    mode = runtime.flags.maintenance
    if mode.on:
        raise Maintenance(mode.message, retry_after=mode.retry_after)


async def request_id(request: Request) -> str:
    return request.scope["state"]["request_id"]  # type: ignore[no-any-return]


async def session(
    request: Request,
    runtime: Annotated[Runtime, Depends(runtime)],
) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits, anything else rolls back.

    A GET only reads, so it reads on `Database.reads`: on SQLite the read
    connections beside the single writer, which neither waits for a write
    batch nor holds the write lock while it renders its page.
    """
    database = runtime.database
    sessions = database.reads if request.method == "GET" else database.sessions
    async with sessions() as db_session:
        yield db_session


# The session ends as the route returns, before its answer is sent. Ended after
# the answer (FastAPI's default for a dependency that yields), it kept its
# connection while the saturated loop sent the answer and ran other requests'
# steps, and new requests queued for connections: GET summary under wrk (64
# connections) had a p99 of 3.8 to 5.3 s, and of 0.4 to 1.1 s with this scope.
SessionDep = Annotated[AsyncSession, Depends(session, scope="function")]


async def caller(
    request: Request,
    runtime: Annotated[Runtime, Depends(runtime)],
    db_session: SessionDep,
) -> Caller:
    """The platform behind the request's HTTP Basic credentials, or 401.

    A GET is looked up with the requests waiting at the same moment, in one
    query on the read connections, as the hot PATCH is. A write is looked up
    in its own session, which on SQLite takes the write lock there: measured
    with wrk, creates looked up beside the writer crowded the event loop while
    one of them held the lock (0.72x the orders a second, p99 0.8 -> 2.4 s).
    """
    if request.method == "GET":
        return await identify(request, runtime, runtime.patches.authenticate)

    async def lookup(name: str, key: str) -> Caller | None:
        return await platforms.authenticate(db_session, runtime.secret, name, key)

    return await identify(request, runtime, lookup)


CallerDep = Annotated[Caller, Depends(caller)]


async def identify(
    request: Request,
    runtime: Runtime,
    lookup: Callable[[str, str], Awaitable[Caller | None]],
) -> Caller:
    """Authenticate the request with `lookup`, then take a token from the bucket
    of its platform.

    A body is read in full first (Starlette keeps it for the route), so that a
    slow upload holds no database connection while it trickles in.
    """
    name, key = _basic_credentials(request.headers.get("authorization"))
    if request.method in _BODY_METHODS:
        await request.body()
    found = await lookup(name, key)
    if found is None:
        raise AuthenticationFailed()
    structlog.contextvars.bind_contextvars(platform=found.platform_name)
    request.scope["state"].setdefault(LOG_FIELDS, {})["platform"] = found.platform_name
    await _within_rate_limit(request, runtime, found)
    return found


async def _within_rate_limit(request: Request, runtime: Runtime, who: Caller) -> None:
    """Take a token from the platform's bucket; 429 when it is empty."""
    settings = runtime.settings
    limit = Limit(
        rate=who.rate_limit_per_second or settings.rate_limit_per_second,
        burst=who.rate_limit_burst or settings.rate_limit_burst,
    )
    decision = await runtime.limiter.take(f"platform:{who.platform_id}", limit)
    if not decision.allowed:
        raise RateLimited(headers=decision.headers())
    request.scope["state"][RATE_LIMIT_HEADERS] = decision.headers()


def _basic_credentials(header: str | None) -> tuple[str, str]:
    if not header:
        raise AuthenticationFailed("Authentication required: use HTTP Basic.")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationFailed("Authentication failed: use HTTP Basic.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed() from None
    name, colon, key = decoded.partition(":")
    if not colon or not key or not platforms.PLATFORM_NAME.fullmatch(name):
        raise AuthenticationFailed()  # no platform has such a name: ask no one
    return name, key


# Body models read by `json_body`, so the OpenAPI document can describe them.
BODY_MODELS: dict[str, type[BaseModel]] = {}


def json_body(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """Read and validate a JSON body with `model`, straight from the raw bytes.

    Parsing the bytes once with pydantic keeps numbers exact for Decimal fields
    and reports every problem in one go, in the contract's envelope.
    """
    BODY_MODELS[model.__name__] = model
    read_only: frozenset[str] = getattr(model, "read_only_members", frozenset())

    async def read(request: Request) -> M:
        return await read_json(request, model, read_only)

    return read


async def read_json(
    request: Request, model: type[M], read_only: frozenset[str] = frozenset()
) -> M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise envelope.from_pydantic(exc, read_only) from None


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The `openapi_extra` that documents a body read by `json_body`."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                }
            },
        }
    }
