"""The sans-I/O layer: what to send for a call, and how to read the answer.

A `Call` describes one API request completely (method, path, query, body, how
to read the answer, whether repeating it is safe). The sync and async clients
only move bytes; everything they share lives here and in `_calls.py`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from asyncorders.client._errors import (
    REQUEST_ID,
    UnexpectedResponse,
    error_from_response,
)
from asyncorders.client._models import Model, ResponseInfo

T = TypeVar("T")
M = TypeVar("M", bound=Model)
Params = tuple[tuple[str, str], ...]
Reader = Callable[[httpx.Response], T]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str  # below the base URL, segments already quoted
    read: Reader[T]
    params: Params = ()
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotent: bool = True  # safe to repeat even if it may have been done

    def with_params(self, **values: str | None) -> Call[T]:
        """The same call with these query parameters replaced (None drops one)."""
        kept = tuple((k, v) for k, v in self.params if k not in values)
        added = tuple((k, v) for k, v in values.items() if v is not None)
        return replace(self, params=kept + added)


def path(*segments: str) -> str:
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


def query(**values: object) -> Params:
    """Query parameters from keyword values; None is left out, lists repeat."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        pairs.extend((name, _text(item)) for item in items if item is not None)
    return tuple(pairs)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def encode(body: Any) -> bytes:
    """JSON with exact money: a Decimal is written as a JSON number."""
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        # Tango amounts have at most 15 significant digits, which a float's
        # shortest repr writes back exactly.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Model):
        return value.model_dump(exclude_none=True)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def build_request(
    http: httpx.Client | httpx.AsyncClient, call: Call[Any]
) -> httpx.Request:
    """The request for one attempt; each attempt gets a request id of its own."""
    headers = {REQUEST_ID: str(uuid.uuid4())}
    if call.body is not None:
        headers["Content-Type"] = "application/json"
    headers.update(call.headers)
    return http.build_request(
        call.method,
        call.path.lstrip("/"),
        params=list(call.params),
        content=call.body,
        headers=headers,
    )


def request_id(request: httpx.Request, response: httpx.Response | None) -> str:
    """The id the server used (it may replace ours), else the one we sent."""
    if response is not None and REQUEST_ID in response.headers:
        return response.headers[REQUEST_ID]
    return request.headers[REQUEST_ID]


def one(model: type[M]) -> Reader[M]:
    def read(response: httpx.Response) -> M:
        data = _checked(response)
        try:
            parsed = model.model_validate_json(data)
        except PydanticValidationError as error:
            raise _unreadable(response, error) from None
        parsed._response = _info(response)
        return parsed

    return read


def many(model: type[M]) -> Reader[list[M]]:
    adapter = TypeAdapter(list[model])  # type: ignore[valid-type]

    def read(response: httpx.Response) -> list[M]:
        data = _checked(response)
        try:
            parsed: list[M] = adapter.validate_json(data)
        except PydanticValidationError as error:
            raise _unreadable(response, error) from None
        return parsed

    return read


def _checked(response: httpx.Response) -> bytes:
    if not response.is_success:
        raise error_from_response(response)
    return response.content


def _info(response: httpx.Response) -> ResponseInfo:
    return ResponseInfo(
        status_code=response.status_code,
        request_id=response.headers.get(REQUEST_ID),
        etag=response.headers.get("ETag"),
    )


def _unreadable(
    response: httpx.Response, error: PydanticValidationError
) -> UnexpectedResponse:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
        for e in error.errors(include_url=False)[:5]
    )
    return UnexpectedResponse(
        f"{response.status_code} answer is not the expected JSON: {problems}",
        status_code=response.status_code,
        request_id=response.headers.get(REQUEST_ID),
    )


def drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
