"""Platforms and their API keys (contract section 3).

A platform has at most two active keys, so that a key can be rotated without
downtime. Authentication reads the keys on every request and caches nothing, so
a revoked key stops working at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.clock import utcnow
from asyncorders.errors import (
    AlreadyExists,
    AsyncOrdersError,
    FieldError,
    ValidationFailed,
)
from asyncorders.platforms import keys, repository
from asyncorders.storage.direct import Runner
from asyncorders.storage.tables import ApiKey, Platform

MAX_ACTIVE_KEYS = 2
PLATFORM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is making a request: the platform and the key it used."""

    platform_id: int
    platform_name: str
    key_id: int
    rate_limit_per_second: float | None = None  # None: the deployment default
    rate_limit_burst: int | None = None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly made key. `key` is shown once and never stored."""

    platform_name: str
    public_id: str
    key: str


class PlatformNotFound(AsyncOrdersError):
    status_code = 404
    i18n_key = "404.004"
    default_message = "No such platform."


class TooManyKeys(AsyncOrdersError):
    status_code = 409
    i18n_key = "409.002"
    default_message = "The platform already has two active keys; revoke one first."


class KeyNotFound(AsyncOrdersError):
    status_code = 404
    i18n_key = "404.005"
    default_message = "No active key with that id on this platform."


async def authenticate(
    session: AsyncSession, secret: bytes, platform_name: str, key: str
) -> Caller | None:
    """The caller whose active key matches, or None.

    The candidate is hashed and compared with every active key whether or not
    the platform exists, so timing does not tell which part was wrong.
    """
    return match(secret, key, await repository.active_keys(session, platform_name))


async def authenticate_many(
    session: Runner, secret: bytes, credentials: Sequence[tuple[str, str]]
) -> list[Caller | None]:
    """`authenticate` for several (platform name, key) pairs in one query."""
    names = sorted({name for name, _ in credentials})
    rows = await repository.active_keys_of(session, names)
    by_platform: dict[str, list[repository.KeyRow]] = {}
    for row in rows:
        by_platform.setdefault(row[1], []).append(row)
    return [match(secret, key, by_platform.get(name, [])) for name, key in credentials]


def match(secret: bytes, key: str, rows: Sequence[repository.KeyRow]) -> Caller | None:
    """The caller whose key among `rows` is `key`, compared with every row."""
    candidate = keys.hash_key(secret, key)
    found: Caller | None = None
    for platform_id, name, key_id, key_hash, rate, burst in rows:
        if keys.matches(candidate, key_hash):
            found = Caller(platform_id, name, key_id, rate, burst)
    return found


async def create_platform(
    session: AsyncSession, secret: bytes, name: str, key: str | None = None
) -> IssuedKey:
    if not PLATFORM_NAME.fullmatch(name):
        raise ValidationFailed(
            [
                FieldError(
                    "name",
                    "400.002",
                    "A platform name is 1 to 100 letters, digits, '.', '_' or '-' "
                    "(it is the HTTP Basic user name, so no ':').",
                    invalid_value=name,
                    constraint="Pattern",
                )
            ]
        )
    if await repository.get_by_name(session, name) is not None:
        raise AlreadyExists(f"Platform {name!r} already exists.")
    platform = Platform(name=name, created_at=utcnow())
    session.add(platform)
    await session.flush()
    return await _issue(session, secret, platform, key)


async def add_key(
    session: AsyncSession, secret: bytes, platform_name: str
) -> IssuedKey:
    platform = await _platform(session, platform_name)
    if len(await repository.active_key_rows(session, platform.id)) >= MAX_ACTIVE_KEYS:
        raise TooManyKeys()
    return await _issue(session, secret, platform)


async def rotate_key(
    session: AsyncSession, secret: bytes, platform_name: str
) -> tuple[IssuedKey, list[str]]:
    """Issue a new key and revoke the oldest ones so that two stay active at most.

    Returns the new key and the public ids of the keys it revoked.
    """
    platform = await _platform(session, platform_name)
    active = await repository.active_key_rows(session, platform.id)
    retired = active[: max(0, len(active) - MAX_ACTIVE_KEYS + 1)]
    now = utcnow()
    for row in retired:
        row.revoked_at = now
    issued = await _issue(session, secret, platform)
    return issued, [row.public_id for row in retired]


async def revoke_key(session: AsyncSession, platform_name: str, public_id: str) -> None:
    platform = await _platform(session, platform_name)
    if not await repository.revoke(session, platform.id, public_id, utcnow()):
        raise KeyNotFound()


async def list_keys(session: AsyncSession, platform_name: str) -> list[ApiKey]:
    platform = await _platform(session, platform_name)
    return await repository.all_keys(session, platform.id)


async def _platform(session: AsyncSession, name: str) -> Platform:
    platform = await repository.get_by_name(session, name)
    if platform is None:
        raise PlatformNotFound(f"No platform named {name!r}.")
    return platform


async def _issue(
    session: AsyncSession, secret: bytes, platform: Platform, key: str | None = None
) -> IssuedKey:
    plain = key or keys.new_key()
    row = ApiKey(
        public_id=keys.new_public_id(),
        platform_id=platform.id,
        key_hash=keys.hash_key(secret, plain),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return IssuedKey(platform.name, row.public_id, plain)


async def set_rate_limit(
    session: AsyncSession,
    platform_name: str,
    per_second: float | None,
    burst: int | None,
) -> None:
    """Override the deployment's rate limit for one platform (None: the default)."""
    platform = await _platform(session, platform_name)
    platform.rate_limit_per_second = per_second
    platform.rate_limit_burst = burst
    await session.flush()
