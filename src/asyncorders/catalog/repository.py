from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.storage.tables import Brand, CatalogItem


async def items_by_utid(
    session: AsyncSession, utids: Iterable[str]
) -> dict[str, CatalogItem]:
    wanted = {utid.upper() for utid in utids}
    if not wanted:
        return {}
    result = await session.scalars(
        select(CatalogItem).where(CatalogItem.utid.in_(sorted(wanted)))
    )
    return {item.utid: item for item in result}


async def brands_by_key(session: AsyncSession) -> dict[str, Brand]:
    return {b.brand_key: b for b in await session.scalars(select(Brand))}


async def all_items(session: AsyncSession) -> dict[str, CatalogItem]:
    return {i.utid: i for i in await session.scalars(select(CatalogItem))}


async def brands_with_items(
    session: AsyncSession,
    *,
    brand_key: str | None = None,
    utid: str | None = None,
    currency_code: str | None = None,
    status: str | None = None,
) -> list[tuple[Brand, list[CatalogItem]]]:
    query = select(Brand, CatalogItem).join(
        CatalogItem, CatalogItem.brand_id == Brand.id
    )
    if brand_key:
        query = query.where(Brand.brand_key == brand_key)
    if utid:
        query = query.where(CatalogItem.utid == utid.upper())
    if currency_code:
        query = query.where(CatalogItem.currency_code == currency_code)
    if status:
        query = query.where(CatalogItem.status == status)
    rows = await session.execute(query.order_by(Brand.brand_key, CatalogItem.utid))
    grouped: dict[int, tuple[Brand, list[CatalogItem]]] = {}
    for brand, item in rows:
        grouped.setdefault(brand.id, (brand, []))[1].append(item)
    return list(grouped.values())
