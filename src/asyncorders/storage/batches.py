"""Batch queries whose SQL text repeats, so that drivers reuse their statements.

A query for n keys has a text of its own for each n, and both drivers keep
prepared statements by text: sqlite3 up to 128 per connection, asyncpg (through
SQLAlchemy) up to 100. A group commit of 13 patches after one of 14 then
prepares again; on PostgreSQL that is one more round trip and a new plan, in
the busiest transaction there is. So a batch query takes its keys padded to
the next power of two, the last key repeated (what Hibernate calls IN clause
parameter padding): a repeated key finds nothing new, and a handful of texts
serve every batch size. Measured with wrk against `serve` (64 connections,
8 alternated rounds), with the order and key lookups padded: 1.12x the PATCHes
per second on SQLite and 1.06x on PostgreSQL (2 processes), at 0.89x and 0.94x
the machine's CPU time per PATCH.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

# The most keys one batch query takes: its statement has a term per key, and
# SQLite parses a chain of n ORs as an expression n deep (at most 1,000).
MAX_KEYS = 256


def padded_size(count: int) -> int:
    """The power of two at least `count` (and at least 1)."""
    if count > MAX_KEYS:
        raise ValueError(f"a batch query takes at most {MAX_KEYS} keys, not {count}")
    return 1 << max(0, count - 1).bit_length()


def padded(keys: Sequence[T]) -> list[T]:
    """`keys` with the last one repeated up to `padded_size(len(keys))`."""
    if not keys:
        raise ValueError("a batch query needs at least one key")
    return [*keys, *[keys[-1]] * (padded_size(len(keys)) - len(keys))]
