"""When to try a request again, and how long to wait first. No I/O here.

A request is repeated only when repeating it cannot do anything twice:

- 429 and 503 mean the server refused the request without doing it, so any
  request may be repeated, after the server's `Retry-After` (capped);
- other 5xx answers, timeouts and lost connections may come after the request
  was carried out, so only idempotent requests are repeated: reads, the PATCH
  (a merge patch gives the same order however often it is applied) and a create
  that carries an `externalRefID` (a repeat answers 200 with the original);
- a connection that could not be made at all sent nothing: always safe.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from asyncorders.client._errors import (
    ApiError,
    ClientError,
    RateLimited,
    ServerError,
    TransportError,
    Unavailable,
)

logger = logging.getLogger("asyncorders.client")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the client retries. `RetryPolicy(max_attempts=1)` never retries.

    The n-th retry after a 5xx or a transport error waits
    `min(backoff_max, backoff * 2 ** (n - 1))`, less up to half of it at random
    (jitter), so many clients do not come back in step. After a 429 or 503 it
    waits what `Retry-After` says; a server that asks for more than
    `retry_after_max` seconds is not retried, the error is raised at once.
    """

    max_attempts: int = 4
    backoff: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0
    retry_after_default: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.backoff, self.backoff_max, self.retry_after_max) < 0:
            raise ValueError("waits must not be negative")

    def delay(
        self,
        attempt: int,
        error: ClientError,
        *,
        idempotent: bool,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, RateLimited | Unavailable):
            return self._server_wait(error)
        safe = idempotent or (isinstance(error, TransportError) and not error.sent)
        if not safe or not isinstance(error, ServerError | TransportError):
            return None
        return self._backoff(attempt, rand)

    def _server_wait(self, error: ApiError) -> float | None:
        asked = error.retry_after
        if asked is None:
            return self.retry_after_default
        return asked if asked <= self.retry_after_max else None

    def _backoff(self, attempt: int, rand: Callable[[], float]) -> float:
        full = min(self.backoff_max, self.backoff * 2.0 ** (attempt - 1))
        return full - full / 2 * rand()


DEFAULT_RETRY = RetryPolicy()


def log_retry(
    *,
    method: str,
    path: str,
    attempt: int,
    wait: float,
    error: ClientError,
    request_id: str | None,
) -> None:
    """One log event per retry; never headers, bodies or credentials."""
    reason = (
        f"{error.status_code} {error.i18n_key or ''}".strip()
        if isinstance(error, ApiError)
        else type(error).__name__
    )
    fields = {
        "event": "client.retry",
        "method": method,
        "path": path,
        "attempt": attempt,
        "wait_seconds": round(wait, 3),
        "reason": reason,
        "request_id": request_id,
    }
    logger.warning(
        "client.retry method=%s path=%s attempt=%d wait_seconds=%.3f reason=%r "
        "request_id=%s",
        method,
        path,
        attempt,
        wait,
        reason,
        request_id,
        extra={"client": fields},
    )
