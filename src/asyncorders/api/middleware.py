"""The outermost layer of every request, as plain ASGI for speed.

It gives the request its id (the client's, when well formed), refuses bodies that
are not JSON or too large before the application reads them, writes the access
log line and the request metrics, and turns any unexpected exception into a 500
envelope logged once.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asyncorders import log
from asyncorders.api.envelope import error_response
from asyncorders.api.metrics import observe_request
from asyncorders.errors import (
    AsyncOrdersError,
    BodyTooLarge,
    NotAcceptable,
    NulInRequest,
    UnsupportedMediaType,
)

logger = log.get("asyncorders.http")

REQUEST_ID_HEADER = b"x-request-id"
RATE_LIMIT_HEADERS = "rate_limit_headers"  # scope state key: fields for the answer
LOG_FIELDS = "log_fields"  # scope state key: fields for the access line
_WELL_FORMED_ID = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


class RequestContext:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, any_accept: frozenset[str]
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.any_accept = any_accept  # docs, health and metrics: not JSON-only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        request_id = _request_id(headers.get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 0
        encoded_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = scope["state"].get(RATE_LIMIT_HEADERS) or {}
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, encoded_id),
                    *((k.encode(), v.encode()) for k, v in extra.items()),
                ]
            await send(message)

        try:
            refusal = self._refusal(scope, headers)
            if refusal is not None:
                await self._reply(refusal, scope, send_with_id)
            else:
                limited = _limit_body(receive, self.max_body_bytes)
                await self.app(scope, limited, send_with_id)
        except AsyncOrdersError as error:  # raised by a layer outside the router
            if status == 0:
                await self._reply(error, scope, send_with_id)
        except ClientDisconnect:  # gone before its body arrived: no one to answer
            logger.info("request.client_disconnected", path=scope["path"])
        except Exception:
            logger.exception("request.failed", path=scope["path"])
            if status == 0:
                await self._reply(AsyncOrdersError(), scope, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            observe_request(scope, status, seconds)
            fields = {
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "request_id": request_id,
                **scope["state"].get(LOG_FIELDS, {}),
            }
            log.access("request.done", fields)

    def _refusal(
        self, scope: Scope, headers: dict[bytes, bytes]
    ) -> AsyncOrdersError | None:
        method, path = scope["method"], scope["path"]
        if "\x00" in path or b"%00" in scope["query_string"]:
            return NulInRequest()
        accept = headers.get(b"accept")
        if accept and path not in self.any_accept and not _accepts_json(accept):
            return NotAcceptable()
        if method not in _BODY_METHODS:
            return None
        content_type = headers.get(b"content-type")
        length = headers.get(b"content-length")
        if content_type is None:
            if length in (None, b"0") and b"transfer-encoding" not in headers:
                return None  # no body at all: the route says what is missing
            return UnsupportedMediaType()
        if not _is_json(content_type):
            return UnsupportedMediaType(
                f"Content type '{content_type.decode('latin-1')}' not supported; "
                "send application/json."
            )
        if (
            length is not None
            and length.isdigit()
            and int(length) > self.max_body_bytes
        ):
            return BodyTooLarge(_too_large(self.max_body_bytes))
        return None

    async def _reply(self, error: AsyncOrdersError, scope: Scope, send: Send) -> None:
        response = error_response(error, scope["state"]["request_id"], scope["path"])
        await response(scope, _no_body, send)


class HeadAsGet:
    """Routes a HEAD request as the GET of the same path (RFC 9110 section 9.3.2:
    a server that answers GET answers HEAD too). The answer is the GET's, head
    and all; the HTTP server leaves its body out, as its own scope still says
    HEAD (uvicorn does), and the access line and metrics name HEAD."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # A copy: the server's own scope must go on saying HEAD.
        as_get = {**scope, "method": "GET"}
        try:
            await self.app(as_get, receive, send)
        finally:
            if "route" in as_get:  # for the metrics, which name the route
                scope["route"] = as_get["route"]


def _request_id(sent: bytes | None) -> str:
    if sent is not None and _WELL_FORMED_ID.match(sent):
        return sent.decode()
    return str(uuid.uuid4())


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _accepts_json(accept: bytes) -> bool:
    for part in accept.split(b","):
        media = part.split(b";", 1)[0].strip().lower()
        if media in (b"application/json", b"application/*", b"*/*"):
            return True
        if media.startswith(b"application/") and media.endswith(b"+json"):
            return True
    return False


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit} bytes."


def _limit_body(receive: Receive, limit: int) -> Receive:
    """Count body bytes as they arrive; over the limit, stop with a 413."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(_too_large(limit))
        return message

    return limited


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
