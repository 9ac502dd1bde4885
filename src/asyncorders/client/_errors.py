"""The client's one exception tree, and the two places foreign errors become it.

    ClientError
    +-- TransportError          no answer: `sent` says whether the request may
    |   +-- ConnectError        have reached the server
    |   +-- Timeout
    |   +-- ConnectionLost
    +-- UnexpectedResponse      a success answer the client cannot read
    +-- ApiError                an error answer; carries the whole envelope
        +-- ValidationError           400, 422
        +-- AuthenticationFailed      401
        +-- InsufficientFunds         402
        +-- Forbidden                 403
        +-- NotFound                  404
        +-- Conflict                  409
        +-- PreconditionFailed        412
        +-- PayloadTooLarge           413
        +-- UnsupportedMediaType      415
        +-- RateLimited               429
        +-- ServerError               5xx
            +-- Unavailable           503

`error_from_response` reads an error answer; `translated` maps httpx's transport
errors. Nothing else in the client raises or catches foreign exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import ValidationError as PydanticValidationError

from asyncorders.client._models import ErrorEnvelope, ErrorItem

REQUEST_ID = "X-REQUEST-ID"
_MAX_TEXT = 500


class ClientError(Exception):
    """Root of every error the asyncorders client raises."""


class TransportError(ClientError):
    """No answer came back.

    `sent` is False when the request certainly never reached the server (the
    connection could not be made), so any request may be tried again.
    """

    sent: bool = True

    def __init__(self, message: str, *, method: str, url: str) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class ConnectError(TransportError):
    """The connection could not be made; the request was not sent."""

    sent = False


class Timeout(TransportError):
    """The server did not answer in time; the request may have been processed."""


class ConnectionLost(TransportError):
    """The connection broke before the answer was read."""


class UnexpectedResponse(ClientError):
    """A success answer whose body is not the JSON the client expects."""

    def __init__(self, message: str, *, status_code: int, request_id: str | None):
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


class ApiError(ClientError):
    """An error answer. `envelope` is the whole error body, unknown fields kept."""

    def __init__(
        self, envelope: ErrorEnvelope, *, status_code: int, headers: httpx.Headers
    ) -> None:
        self.envelope = envelope
        self.status_code = status_code
        self.headers = headers
        super().__init__(self._summary())

    @property
    def http_code(self) -> int:
        return self.envelope.httpCode or self.status_code

    @property
    def i18n_key(self) -> str | None:
        return self.envelope.i18nKey

    @property
    def request_id(self) -> str | None:
        return self.envelope.requestId or self.headers.get(REQUEST_ID)

    @property
    def message(self) -> str:
        return self.envelope.message or ""

    @property
    def errors(self) -> list[ErrorItem]:
        return self.envelope.errors

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait (`Retry-After`), if it said."""
        return parse_retry_after(self.headers.get("Retry-After"))

    def _summary(self) -> str:
        parts = [f"{self.status_code}", self.i18n_key or "", self.message]
        details = "; ".join(
            f"{item.path}: {item.message}" for item in self.errors if item.path
        )
        text = " ".join(part for part in parts if part)
        text += f" ({details})" if details else ""
        return f"{text} [request {self.request_id}]"


class ValidationError(ApiError):
    """The request was refused as invalid; `errors` names each problem."""


class AuthenticationFailed(ApiError):
    pass


class InsufficientFunds(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    """The customer or account already exists."""


class PreconditionFailed(ApiError):
    """`If-Match` did not match: the order changed since it was read."""


class PayloadTooLarge(ApiError):
    pass


class UnsupportedMediaType(ApiError):
    pass


class RateLimited(ApiError):
    """Over the rate limit; nothing was done. See `retry_after`."""


class ServerError(ApiError):
    pass


class Unavailable(ServerError):
    """Maintenance or an outage; nothing was done. See `retry_after`."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationError,
    401: AuthenticationFailed,
    402: InsufficientFunds,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    429: RateLimited,
    503: Unavailable,
}


def error_from_response(response: httpx.Response) -> ApiError:
    """The exception for an error answer, whatever its body looks like."""
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = ServerError if response.status_code >= 500 else ApiError
    return kind(
        _envelope(response), status_code=response.status_code, headers=response.headers
    )


def _envelope(response: httpx.Response) -> ErrorEnvelope:
    try:
        envelope = ErrorEnvelope.model_validate_json(response.content)
    except PydanticValidationError:
        # Not the envelope (a proxy's HTML page, a text/plain answer): keep
        # what can be kept.
        envelope = ErrorEnvelope(message=response.text[:_MAX_TEXT].strip() or None)
    if envelope.httpCode is None:
        envelope.httpCode = response.status_code
    if envelope.requestId is None:
        envelope.requestId = response.headers.get(REQUEST_ID)
    return envelope


@contextmanager
def translated(request: httpx.Request) -> Iterator[None]:
    """Turn httpx's transport errors into the client's, at this one place."""
    method, url = request.method, str(request.url.copy_with(query=None))
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        raise ConnectError(
            f"cannot connect: {error!r}", method=method, url=url
        ) from error
    except httpx.TimeoutException as error:
        raise Timeout(
            f"no answer in time: {error!r}", method=method, url=url
        ) from error
    except httpx.TransportError as error:
        raise ConnectionLost(
            f"connection lost: {error!r}", method=method, url=url
        ) from error
    except httpx.RequestError as error:  # an undecodable body, too many redirects
        raise TransportError(
            f"cannot read the answer: {error!r}", method=method, url=url
        ) from error


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
