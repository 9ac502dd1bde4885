"""The one error tree of asyncorders.

Every expected failure is an `AsyncOrdersError` carrying its HTTP status and the
contract's i18nKey (CONTRACT.md section 7); the API renders it into the error
envelope in one place. Domain code raises these without knowing about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of the envelope's `errors[]`."""

    path: str
    i18n_key: str
    message: str
    invalid_value: Any = None
    constraint: str | None = None

    @property
    def code(self) -> int:
        """The numeric form of the key: `400.002` is 400002."""
        status, _, detail = self.i18n_key.partition(".")
        return int(status) * 1000 + int(detail)


class AsyncOrdersError(Exception):
    status_code: ClassVar[int] = 500
    i18n_key: str = "500.001"
    default_message: ClassVar[str] = "An unexpected error occurred."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        i18n_key: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.errors = list(errors)
        self.headers = dict(headers or {})
        if i18n_key is not None:
            self.i18n_key = i18n_key
        super().__init__(self.message)


class MalformedBody(AsyncOrdersError):
    status_code = 400
    i18n_key = "400.001"
    default_message = "The request body must be a JSON object."


class ValidationFailed(AsyncOrdersError):
    """One or more fields failed validation; `errors` says which and why."""

    status_code = 400
    i18n_key = "400.002"
    default_message = "The request has invalid fields."

    def __init__(self, errors: Sequence[FieldError], message: str | None = None):
        # The top-level key is that of the first problem, so a body with only
        # unknown members reads 400.003 and one with only bad values 400.002.
        key = errors[0].i18n_key if errors else None
        super().__init__(message, errors=errors, i18n_key=key)


class NulInRequest(AsyncOrdersError):
    status_code = 400
    i18n_key = "400.002"
    default_message = "The path or query holds a NUL character (%00)."


class EmptyUpdate(AsyncOrdersError):
    status_code = 400
    i18n_key = "400.004"
    default_message = "The update names no field to change."


class AuthenticationFailed(AsyncOrdersError):
    status_code = 401
    i18n_key = "401.001"
    default_message = "Authentication failed. Please check your platform name and key."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message, headers={"WWW-Authenticate": 'Basic realm="asyncorders"'}
        )


class InsufficientFunds(AsyncOrdersError):
    status_code = 402
    i18n_key = "402.001"
    default_message = "Insufficient funds in the account for this order."


class OrderNotFound(AsyncOrdersError):
    status_code = 404
    i18n_key = "404.001"
    default_message = "Async order not found."


class CustomerOrAccountNotFound(AsyncOrdersError):
    status_code = 404
    i18n_key = "404.002"
    default_message = "Customer or account not found."


class RouteNotFound(AsyncOrdersError):
    status_code = 404
    i18n_key = "404.003"
    default_message = "No such resource."


class MethodNotAllowed(AsyncOrdersError):
    status_code = 405
    i18n_key = "405.001"
    default_message = "This method is not allowed on this resource."


class AlreadyExists(AsyncOrdersError):
    status_code = 409
    i18n_key = "409.001"
    default_message = "A customer or account with this identifier already exists."


class PreconditionFailed(AsyncOrdersError):
    status_code = 412
    i18n_key = "412.001"
    default_message = "If-Match does not match the current ETag of the order."


class BodyTooLarge(AsyncOrdersError):
    status_code = 413
    i18n_key = "413.001"
    default_message = "The request body is too large."


class UnsupportedMediaType(AsyncOrdersError):
    status_code = 415
    i18n_key = "415.001"
    default_message = "Content type not supported; send application/json."


class NotAcceptable(AsyncOrdersError):
    status_code = 406
    i18n_key = "406.001"
    default_message = "This API answers only application/json."


class RateLimited(AsyncOrdersError):
    status_code = 429
    i18n_key = "429.001"
    default_message = "Exceeded the allowable TPS rate limit; retry after a pause."

    def __init__(
        self, message: str | None = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message, headers=headers or {"Retry-After": "1"})


class Maintenance(AsyncOrdersError):
    status_code = 503
    i18n_key = "503.001"
    default_message = "The service is in maintenance; retry shortly."

    def __init__(self, message: str | None = None, retry_after: int = 30) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class StorageUnavailable(AsyncOrdersError):
    status_code = 503
    i18n_key = "503.002"
    default_message = "Storage is unavailable or overloaded; retry shortly."

    def __init__(self, message: str | None = None, retry_after: int = 1) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
