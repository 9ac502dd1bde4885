"""Walking cursor pages to the end, the same way for the sync and async clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from asyncorders.client._errors import UnexpectedResponse
from asyncorders.client._models import AsyncOrderList, Model
from asyncorders.client._protocol import Call

P = TypeVar("P", bound=Model)


def next_cursor(page: Model) -> str | None:
    """The cursor of the page after this one, or None on the last page."""
    if isinstance(page, AsyncOrderList):
        available, cursor = page.nextPageAvailable, page.nextCursor
    else:
        pagination = getattr(page, "pagination", None)
        if pagination is None:
            return None
        available, cursor = pagination.nextPageAvailable, pagination.nextCursor
    return cursor if available and cursor else None


def following(call: Call[P], page: P) -> Call[P] | None:
    """The call for the next page, or None when `page` was the last."""
    cursor = next_cursor(page)
    if cursor is None:
        return None
    if dict(call.params).get("nextCursor") == cursor:
        # A server that hands back the cursor it was given would loop forever.
        raise UnexpectedResponse(
            "the server returned the same nextCursor twice",
            status_code=page.response.status_code if page.response else 200,
            request_id=page.request_id,
        )
    return call.with_params(nextCursor=cursor, prevCursor=None)


def walk(send: Callable[[Call[P]], P], first: Call[P]) -> Iterator[P]:
    call: Call[P] | None = first
    while call is not None:
        page = send(call)
        yield page
        call = following(call, page)


async def awalk(
    send: Callable[[Call[P]], Awaitable[P]], first: Call[P]
) -> AsyncIterator[P]:
    call: Call[P] | None = first
    while call is not None:
        page = await send(call)
        yield page
        call = following(call, page)
