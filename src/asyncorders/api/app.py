"""The ASGI application: routes under /raas/v2, one error envelope, one lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from asyncorders import __version__, log
from asyncorders.api import envelope
from asyncorders.api.deps import BODY_MODELS, Runtime, open_for_business
from asyncorders.api.middleware import HeadAsGet, RequestContext
from asyncorders.api.routes import catalogs, customers, health, hot, orders
from asyncorders.api.simulate import Simulation
from asyncorders.demo import seed
from asyncorders.errors import AsyncOrdersError, MethodNotAllowed, RouteNotFound
from asyncorders.fulfilment.worker import Worker
from asyncorders.ratelimit import buckets
from asyncorders.settings import Settings
from asyncorders.storage import migrate
from asyncorders.storage.engine import connect

PREFIX = "/raas/v2"
logger = log.get("asyncorders.api")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = connect(settings)
        await migrate.upgrade(database)
        if settings.sandbox and settings.seed_demo:
            await seed.ensure(database, settings)
        runtime = Runtime(
            settings,
            database,
            settings.resolved_secret_key,
            limiter=buckets(settings.redis_url),
        )
        app.state.runtime = runtime
        await runtime.flags.refresh(database)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(
                runtime.flags.run(database, settings.flags_poll_seconds, stop)
            )
        ]
        if settings.embedded_worker:
            tasks.append(asyncio.create_task(Worker(database, settings).run(stop)))
        logger.info(
            "api.started",
            mode=settings.mode.value,
            embedded_worker=settings.embedded_worker,
            shared_rate_limits=bool(settings.redis_url),
        )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            await runtime.limiter.close()
            await database.dispose()

    app = Service(
        title="asyncorders",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    for router in (orders.router, customers.router, catalogs.router):
        app.include_router(
            router, prefix=PREFIX, dependencies=[Depends(open_for_business)]
        )
    app.include_router(health.router)
    _handle_errors(app)
    context = partial(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        any_accept=frozenset(
            {f"{PREFIX}/docs", f"{PREFIX}/openapi.json", *health.PATHS}
        ),
    )

    def edge(inner: ASGIApp) -> ASGIApp:
        """What every request passes through, the hot route's included."""
        return context(Simulation(inner) if settings.sandbox else inner)

    app.add_middleware(HeadAsGet)
    if settings.sandbox:
        app.add_middleware(Simulation)
    app.add_middleware(context)
    # The hot PATCH is answered before FastAPI; the FastAPI route documents it.
    app.front = hot.HotPaths(
        app.rest, route=hot.route(PREFIX + orders.ORDER_PATH), edge=edge
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


class Service(FastAPI):
    """The FastAPI application, entered through `front`, which answers the hot
    route itself and hands every other request to FastAPI (`rest`)."""

    front: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        await self.front(scope, receive, send)

    async def rest(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def _handle_errors(app: FastAPI) -> None:
    def reply(request: Request, error: AsyncOrdersError) -> Response:
        return envelope.error_response(
            error, request.scope["state"]["request_id"], request.url.path
        )

    @app.exception_handler(AsyncOrdersError)
    async def domain_error(request: Request, exc: AsyncOrdersError) -> Response:
        return reply(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(
        request: Request, exc: RequestValidationError
    ) -> Response:
        # Query, path and header parameters: drop the ("query", name) prefix.
        return reply(
            request, envelope.from_validation(list(exc.errors()), location_prefix=1)
        )

    @app.exception_handler(HTTPException)
    async def framework_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return reply(request, RouteNotFound())
        if exc.status_code == 405:
            allow = ", ".join(_allowed_methods(request))
            return reply(request, MethodNotAllowed(headers={"Allow": allow}))
        logger.error("http.unexpected_status", status=exc.status_code)
        return reply(request, AsyncOrdersError())

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OSError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def storage_error(request: Request, exc: Exception) -> Response:
        error = envelope.storage_error(exc)
        if error is None:
            raise exc
        return reply(request, error)


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on this path (Starlette names only one's),
    HEAD wherever GET is (`HeadAsGet`)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in routes
        )
    ]
    return [*allowed, "HEAD"] if "GET" in allowed else allowed


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    # Validation problems answer 400 with the error envelope, never FastAPI's 422.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for name, model in BODY_MODELS.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    document["components"]["securitySchemes"] = {
        "basicAuth": {
            "type": "http",
            "scheme": "basic",
            "description": "User: platform name. Password: API key.",
        }
    }
    document["security"] = [{"basicAuth": []}]
    app.openapi_schema = document
    return document


_DESCRIPTION = """\
A stateful, self-hostable stand-in for the async-order family of the Tango rewards
API. Every route lives under `/raas/v2`, takes and answers JSON, and authenticates
with HTTP Basic (platform name and API key).

Every error answer carries the same envelope (`timestamp`, `requestId`, `path`,
`httpCode`, `httpPhrase`, `i18nKey`, `message`, `errors[]`), and every response an
`X-REQUEST-ID` header equal to the envelope's `requestId`.

Extensions beyond Tango: the `/history` audit trail of an order, `ETag` and
`If-Match` on orders, `referenceOrderID` in the create answer, `utid` in line-item
summaries and `customerIdentifier` in account views.
"""
