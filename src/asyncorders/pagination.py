"""Opaque cursors and keyset pages.

A cursor is base64url of a small JSON document: which way to walk, the sort
key of the row at the page edge, and a tag of the listing it belongs to (the
order, the filters), so that a cursor sent to another listing is a 400 rather
than a silently wrong page. Pages are read by key, never by offset, so a page
costs the same on the millionth row as on the first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from asyncorders.errors import FieldError, ValidationFailed

T = TypeVar("T")
Direction = Literal["next", "prev"]
Key = tuple[Any, ...]

# The integer parts of a sort key, as wide as their columns: a forged cursor
# beyond them is a 400, not a value the database refuses.
ROW_ID = range(2**63)  # 64-bit primary keys
POSITION = range(2**31)  # a line item's place in its order
KeyPart = type | range


@dataclass(frozen=True, slots=True)
class Cursor:
    direction: Direction
    key: Key
    listing: str  # the tag of the listing that issued it
    text: str  # as the client sent it, for the error that refuses it


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    prev_cursor: str | None
    next_cursor: str | None
    max_results: int

    @property
    def prev_available(self) -> bool:
        return self.prev_cursor is not None

    @property
    def next_available(self) -> bool:
        return self.next_cursor is not None


def encode(direction: Direction, key: Key, listing: str) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    document = [direction[0], values, _tag(listing)]
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tag(listing: str) -> str:
    return hashlib.blake2s(listing.encode(), digest_size=6).hexdigest()


def decode(
    prev_cursor: str | None, next_cursor: str | None, key_types: Sequence[KeyPart]
) -> Cursor | None:
    """Read the cursor a client sent back; 400 when it is not one of ours."""
    if prev_cursor and next_cursor:
        raise _bad_cursor("prevCursor", prev_cursor, "Send prevCursor or nextCursor.")
    name, text = (
        ("prevCursor", prev_cursor) if prev_cursor else ("nextCursor", next_cursor)
    )
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        way, values, listing = json.loads(raw)
        directions: dict[str, Direction] = {"n": "next", "p": "prev"}
        direction = directions[way]
        if not isinstance(listing, str):
            raise ValueError
        if len(values) != len(key_types):
            raise ValueError
        key = tuple(
            _typed(value, kind) for value, kind in zip(values, key_types, strict=True)
        )
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error):
        raise _bad_cursor(name, text, "This cursor is not valid.") from None
    expected = "prev" if name == "prevCursor" else "next"
    if direction != expected:
        raise _bad_cursor(name, text, "This cursor belongs to the other parameter.")
    return Cursor(direction, key, listing, text)


def _typed(value: Any, kind: KeyPart) -> Any:
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed.astimezone(UTC)
    if isinstance(kind, range):
        if isinstance(value, int) and not isinstance(value, bool) and value in kind:
            return value
        raise ValueError
    if kind is str and isinstance(value, str):
        return value
    raise ValueError


def _bad_cursor(name: str, value: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        [FieldError(name, "400.002", message, invalid_value=value, constraint="Cursor")]
    )


async def keyset_page(
    session: AsyncSession,
    query: Select[*tuple[Any, ...]],
    *,
    columns: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    descending: bool,
    cursor: Cursor | None,
    limit: int,
    key_of: Callable[[Any], Key],
    listing: str,
    scalars: bool = True,
) -> Page[Any]:
    """One page of `query`, ordered by `columns`, starting after `cursor`.

    `listing` names what is listed (the order, the filters): a cursor issued
    for another listing is refused. A `prev` cursor walks backwards: rows
    before the key, read in reverse and turned round, so both directions use
    the same index.
    """
    if cursor is not None and cursor.listing != _tag(listing):
        name = "prevCursor" if cursor.direction == "prev" else "nextCursor"
        raise _bad_cursor(name, cursor.text, "This cursor belongs to another listing.")
    backwards = cursor is not None and cursor.direction == "prev"
    walk_descending = descending != backwards
    row_key = tuple_(*columns) if len(columns) > 1 else columns[0]
    if cursor is not None:
        bound = [literal(v, c.type) for v, c in zip(cursor.key, columns, strict=True)]
        edge = tuple_(*bound) if len(columns) > 1 else bound[0]
        query = query.where(row_key < edge if walk_descending else row_key > edge)
    order = [c.desc() if walk_descending else c.asc() for c in columns]
    query = query.order_by(*order).limit(limit + 1)

    result = await session.execute(query)
    rows = list(result.scalars() if scalars else result.all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()

    has_prev = more if backwards else cursor is not None
    has_next = cursor is not None if backwards else more
    if not rows:
        return Page([], None, None, limit)
    return Page(
        rows,
        encode("prev", key_of(rows[0]), listing) if has_prev else None,
        encode("next", key_of(rows[-1]), listing) if has_next else None,
        limit,
    )
