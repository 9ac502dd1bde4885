"""The hottest route, PATCH of an order, handled as a plain Starlette endpoint.

FastAPI spends most of a small request solving its dependency graph (and runs
the plain-function dependencies in a thread). This route does the same steps
in the same order as `orders.update_async_order` - maintenance, credentials,
rate limit, body, update, commit - with the same rules, views and error
handlers, so behaviour and envelope are identical; the database work goes
through the group commit of `orders/group_commit.py`. It sits in front of the
FastAPI route, which still documents the operation in the OpenAPI document
and answers every request this route does not take (path parameters outside
their limits get FastAPI's own 400). `HotPaths`, the application's front
door, hands matching requests to it through the request context, past
FastAPI's layers (server errors, telemetry, body limit, exception handlers)
and its router.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from asyncorders.api import envelope, responses
from asyncorders.api.deps import Runtime, identify, open_for_business, read_json
from asyncorders.errors import AsyncOrdersError
from asyncorders.orders import service, views
from asyncorders.orders.repository import OrderPath
from asyncorders.orders.schemas import UpdateAsyncOrderCriteria

_PATH_PARAMS = ("customerIdentifier", "accountIdentifier", "externalRefID")
_MAX_ID = 100


class HotRoute(Route):
    """Matches only a PATCH whose path parameters are within their limits."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("method") != "PATCH":
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is Match.FULL:
            for value in child["path_params"].values():
                if len(value) > _MAX_ID:  # the converter never yields ""
                    return Match.NONE, {}
        return match, child


async def update_async_order(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    await open_for_business(runtime)
    who = await identify(request, runtime, runtime.patches.authenticate)
    body = await read_json(
        request, UpdateAsyncOrderCriteria, UpdateAsyncOrderCriteria.read_only_members
    )
    params = request.path_params
    order = await runtime.patches.update_metadata(
        who,
        OrderPath(*(params[name] for name in _PATH_PARAMS)),
        service.wanted_changes(body),
        if_match=request.headers.get("if-match"),
        request_id=request.scope["state"]["request_id"],
    )
    return responses.json(views.updated(order), headers={"ETag": views.etag(order)})


class HotPaths:
    """Answers the hot route's requests itself, before FastAPI's own layers and
    router; every other request goes on to `app`. Errors get the same envelope
    as there, and `edge` (the request context, in sandbox the simulation too)
    wraps the hot route as it wraps the rest."""

    def __init__(
        self,
        app: ASGIApp,
        route: HotRoute,
        edge: Callable[[ASGIApp], ASGIApp],
    ) -> None:
        self.app = app
        self.route = route
        self.hot = edge(self._handle)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child, route=self.route)
                await self.hot(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await update_async_order(request)
        except AsyncOrdersError as error:
            response = self._error(scope, error)
        except Exception as exc:
            storage = envelope.storage_error(exc)
            if storage is None:
                raise  # a bug: the request context answers 500 and logs it
            response = self._error(scope, storage)
        await response(scope, receive, send)

    def _error(self, scope: Scope, error: AsyncOrdersError) -> Response:
        return envelope.error_response(
            error, scope["state"]["request_id"], scope["path"]
        )


def route(path: str) -> HotRoute:
    return HotRoute(
        path, update_async_order, methods=["PATCH"], include_in_schema=False
    )
