"""The error envelope of contract section 7, and the one place that renders it.

Every non-2xx answer goes through `error_response`: domain errors, the
framework's own (unknown route, wrong method, bad query parameters), and storage
failures, which become 503.002 rather than 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import Response

from asyncorders import log
from asyncorders.api import metrics
from asyncorders.errors import (
    AsyncOrdersError,
    FieldError,
    MalformedBody,
    StorageUnavailable,
    ValidationFailed,
)

logger = log.get("asyncorders.api")

# How pydantic's error types read as bean-validation style constraints.
_CONSTRAINTS = {
    "missing": "NotNull",
    "string_too_long": "Size",
    "string_too_short": "Size",
    "too_long": "Size",
    "too_short": "Size",
    "string_pattern_mismatch": "Pattern",
    "greater_than_equal": "Min",
    "greater_than": "Min",
    "less_than_equal": "Max",
    "less_than": "Max",
    "decimal_max_places": "Digits",
    "decimal_max_digits": "Digits",
    "enum": "Enum",
    "literal_error": "Enum",
}
_SCALARS = (str, int, float, bool, type(None))
_MAX_ECHO = 256


class ErrorItem(BaseModel):
    path: str
    code: int
    i18nKey: str
    message: str
    invalidValue: Any = None
    constraint: str | None = None


class ErrorInfo(BaseModel):
    """The body of every error answer."""

    timestamp: str
    requestId: str
    path: str
    httpCode: int
    httpPhrase: str
    i18nKey: str
    message: str
    errors: list[ErrorItem]


def error_response(error: AsyncOrdersError, request_id: str, path: str) -> Response:
    metrics.count_rejection(error.status_code, error.i18n_key)
    body = ErrorInfo(
        timestamp=_timestamp(),
        requestId=request_id,
        path=path,
        httpCode=error.status_code,
        httpPhrase=HTTPStatus(error.status_code).phrase,
        i18nKey=error.i18n_key,
        message=error.message,
        errors=[
            ErrorItem(
                path=item.path,
                code=item.code,
                i18nKey=item.i18n_key,
                message=item.message,
                invalidValue=item.invalid_value,
                constraint=item.constraint,
            )
            for item in error.errors
        ],
    )
    return Response(
        body.model_dump_json(),
        status_code=error.status_code,
        media_type="application/json",
        headers=error.headers,  # X-REQUEST-ID is added by the middleware
    )


def storage_error(exc: Exception) -> AsyncOrdersError | None:
    """The 503 for a storage failure (logged once), or None for anything else."""
    if isinstance(exc, PoolTimeout):
        logger.warning("storage.pool_timeout")
        return StorageUnavailable("Storage is overloaded; retry.")
    if isinstance(exc, OSError):
        # The driver could not open a connection at all (server down, restarting).
        logger.warning("storage.unreachable", error=type(exc).__name__)
        return StorageUnavailable()
    if isinstance(exc, OperationalError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        logger.warning("storage.unavailable", error=type(exc.orig).__name__)
        return StorageUnavailable()
    return None


def from_validation(
    errors: list[ErrorDetails],
    *,
    read_only: frozenset[str] = frozenset(),
    location_prefix: int = 0,
) -> AsyncOrdersError:
    """Turn pydantic's errors into one envelope entry per problem.

    A body that is not JSON, or not an object, is 400.001 whatever else is
    wrong; an unknown member is 400.003; any other problem is 400.002.
    """
    items: list[FieldError] = []
    for error in errors:
        location = error["loc"][location_prefix:]
        if error["type"] == "json_invalid":
            detail = (error.get("ctx") or {}).get("error", "invalid JSON")
            return MalformedBody(f"The request body is not valid JSON: {detail}.")
        if not location and error["type"] in {"model_type", "dict_type", "missing"}:
            return MalformedBody()
        items.append(_field_error(error, _dotted(location), read_only))
    return ValidationFailed(items)


def from_pydantic(
    exc: ValidationError, read_only: frozenset[str] = frozenset()
) -> AsyncOrdersError:
    return from_validation(exc.errors(include_url=False), read_only=read_only)


def _field_error(
    error: ErrorDetails, path: str, read_only: frozenset[str]
) -> FieldError:
    kind = error["type"]
    value = _echo(error.get("input"))
    if kind == "extra_forbidden":
        reason = "is not updatable" if path in read_only else "is not a known field"
        return FieldError(path, "400.003", f"{path} {reason}.", value, "Unknown")
    if kind == "missing":
        return FieldError(path, "400.002", f"{path} is required.", None, "NotNull")
    constraint = _CONSTRAINTS.get(kind, "Type" if kind.endswith("_type") else "Valid")
    return FieldError(path, "400.002", f"{path}: {error['msg']}.", value, constraint)


def _dotted(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else part
    return path


def _echo(value: Any) -> Any:
    """The invalid value as it may be shown back: small scalars only."""
    if isinstance(value, str):
        return value[:_MAX_ECHO]
    return value if isinstance(value, _SCALARS) else None


def _timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
