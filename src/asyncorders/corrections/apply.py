"""Apply corrections with the async client: read each order, then PATCH it
with `If-Match`, a bounded number at a time and under a request rate.

An order that already has the requested values is `unchanged` and gets no
PATCH. One that changed between the read and the PATCH answers 412 and is a
`conflict`: it is never overwritten. (A 412 can also follow our own PATCH
whose answer was lost and retried; the order is read again, and if it has
the requested values the correction is `ok`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from asyncorders.client import (
    ApiError,
    AsyncClient,
    AsyncOrderDetail,
    ClientError,
    NotFound,
    PreconditionFailed,
    ValidationError,
)
from asyncorders.corrections.results import Outcome, Result
from asyncorders.corrections.rows import FIELDS, Correction

T = TypeVar("T")
Done = Callable[[Result], None]


class Pacer:
    """Spaces requests at most `rate` per second (None: no pacing)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass(frozen=True, slots=True)
class Preview:
    """What a dry run found for one row."""

    correction: Correction
    outcome: Outcome  # ok means "would change"
    current: dict[str, str | None]
    request_id: str | None
    message: str


def current_values(order: AsyncOrderDetail) -> dict[str, str | None]:
    return {name: getattr(order, name) for name in FIELDS}


async def apply(
    client: AsyncClient,
    corrections: Sequence[Correction],
    *,
    concurrency: int,
    pacer: Pacer,
    done: Done = lambda _: None,
) -> list[Result]:
    async def one(correction: Correction) -> Result:
        result = await _correct(client, pacer, correction)
        done(result)
        return result

    return await _bounded(concurrency, [one(c) for c in corrections])


async def preview(
    client: AsyncClient,
    corrections: Sequence[Correction],
    *,
    concurrency: int,
    pacer: Pacer,
) -> list[Preview]:
    async def one(correction: Correction) -> Preview:
        read = await _read(client, pacer, correction)
        if isinstance(read, Result):
            return Preview(correction, read.outcome, {}, read.request_id, read.message)
        current = current_values(read)
        if correction.satisfied_by(current):
            outcome, message = Outcome.UNCHANGED, "already has the requested values"
        else:
            outcome, message = Outcome.OK, "would change"
        return Preview(correction, outcome, current, read.request_id, message)

    return await _bounded(concurrency, [one(c) for c in corrections])


async def _bounded(limit: int, work: list[Awaitable[T]]) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def gated(step: Awaitable[T]) -> T:
        async with gate:
            return await step

    return list(await asyncio.gather(*(gated(step) for step in work)))


async def _correct(client: AsyncClient, pacer: Pacer, c: Correction) -> Result:
    read = await _read(client, pacer, c)
    if isinstance(read, Result):
        return read
    if c.satisfied_by(current_values(read)):
        return Result(
            c, Outcome.UNCHANGED, read.request_id, "already has the requested values"
        )

    key = c.key
    await pacer.wait()
    try:
        updated = await client.patch_order(
            key.customer,
            key.account,
            key.external_ref_id,
            dict(c.changes),
            if_match=read.etag,
        )
    except PreconditionFailed as error:
        return await _after_conflict(client, pacer, c, error)
    except ClientError as error:
        return _failed(c, error)
    changed = ", ".join(sorted(c.changes))
    note = "" if read.etag else " (no ETag from the server: sent without If-Match)"
    return Result(c, Outcome.OK, updated.request_id, f"set {changed}{note}")


async def _read(
    client: AsyncClient, pacer: Pacer, c: Correction
) -> AsyncOrderDetail | Result:
    await pacer.wait()
    try:
        return await client.get_order(
            c.key.customer, c.key.account, c.key.external_ref_id, max_results=1
        )
    except ClientError as error:
        return _failed(c, error)


async def _after_conflict(
    client: AsyncClient, pacer: Pacer, c: Correction, error: PreconditionFailed
) -> Result:
    again = await _read(client, pacer, c)
    if isinstance(again, AsyncOrderDetail) and c.satisfied_by(current_values(again)):
        return Result(
            c, Outcome.OK, error.request_id, "the order has the requested values"
        )
    return Result(
        c,
        Outcome.CONFLICT,
        error.request_id,
        "the order changed after it was read; not overwritten",
    )


def _failed(c: Correction, error: ClientError) -> Result:
    if isinstance(error, NotFound):
        return Result(c, Outcome.NOT_FOUND, error.request_id, "no such order")
    if isinstance(error, ValidationError):
        return Result(c, Outcome.INVALID, error.request_id, _details(error))
    if isinstance(error, ApiError):
        return Result(c, Outcome.ERROR, error.request_id, _details(error))
    return Result(c, Outcome.ERROR, None, f"{type(error).__name__}: {error}")


def _details(error: ApiError) -> str:
    parts = [f"{error.status_code} {error.i18n_key or ''}".strip(), error.message]
    parts += [f"{item.path}: {item.message}" for item in error.errors if item.path]
    return "; ".join(part for part in parts if part)
