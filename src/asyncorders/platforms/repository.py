from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.storage import batches, direct
from asyncorders.storage.direct import Runner
from asyncorders.storage.tables import ApiKey, Platform


async def get_by_name(session: AsyncSession, name: str) -> Platform | None:
    return await session.scalar(select(Platform).where(Platform.name == name))


# (platform id, name, key id, key hash, rate, burst)
KeyRow = tuple[int, str, int, str, float | None, int | None]


async def active_keys(session: Runner, platform_name: str) -> Sequence[KeyRow]:
    """(platform id, name, key id, key hash, rate, burst) of each unrevoked key."""
    return await active_keys_of(session, [platform_name])


async def active_keys_of(
    session: Runner, platform_names: Sequence[str]
) -> Sequence[KeyRow]:
    """`active_keys` of several platforms, in one query per `batches.MAX_KEYS`."""
    rows: list[KeyRow] = []
    for start in range(0, len(platform_names), batches.MAX_KEYS):
        names = batches.padded(platform_names[start : start + batches.MAX_KEYS])
        parameters = {f"n{i}": name for i, name in enumerate(names)}
        query = _active_keys_of(len(names))
        rows.extend(await direct.fetch(session, query, parameters))
    return rows


@functools.cache
def _active_keys_of(size: int) -> Select[int, str, int, str, float | None, int | None]:
    """The unrevoked keys of `size` platforms named n0, n1..."""
    return (
        select(
            Platform.id,
            Platform.name,
            ApiKey.id,
            ApiKey.key_hash,
            Platform.rate_limit_per_second,
            Platform.rate_limit_burst,
        )
        .join(ApiKey, ApiKey.platform_id == Platform.id)
        .where(
            Platform.name.in_([bindparam(f"n{i}") for i in range(size)]),
            ApiKey.revoked_at.is_(None),
        )
    )


async def active_key_rows(session: AsyncSession, platform_id: int) -> list[ApiKey]:
    result = await session.scalars(
        select(ApiKey)
        .where(ApiKey.platform_id == platform_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at, ApiKey.id)
        .with_for_update()
    )
    return list(result)


async def all_keys(session: AsyncSession, platform_id: int) -> list[ApiKey]:
    result = await session.scalars(
        select(ApiKey).where(ApiKey.platform_id == platform_id).order_by(ApiKey.id)
    )
    return list(result)


async def revoke(
    session: AsyncSession, platform_id: int, public_id: str, now: datetime
) -> bool:
    result = await session.execute(
        update(ApiKey)
        .where(
            ApiKey.platform_id == platform_id,
            ApiKey.public_id == public_id,
            ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Platform)) or 0
