"""The reward catalog: loaded by operators from a file, read by the API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.catalog import repository
from asyncorders.catalog.schemas import BrandView, CatalogFile, CatalogView, ItemFile
from asyncorders.clock import utcnow
from asyncorders.storage.tables import Brand, CatalogItem

CATALOG_NAME = "asyncorders catalog"


@dataclass(frozen=True, slots=True)
class LoadResult:
    brands: int
    items_added: int
    items_updated: int


async def load(session: AsyncSession, catalog: CatalogFile) -> LoadResult:
    """Insert or update every brand and item of the file, keyed by brandKey and utid."""
    now = utcnow()
    brands = await repository.brands_by_key(session)
    items = await repository.all_items(session)
    added = updated = 0
    for brand_file in catalog.brands:
        brand = brands.get(brand_file.brandKey)
        if brand is None:
            brand = Brand(brand_key=brand_file.brandKey, created_at=now)
            session.add(brand)
            brands[brand.brand_key] = brand
        brand.brand_name = brand_file.brandName
        brand.description = brand_file.description
        brand.short_description = brand_file.shortDescription
        brand.disclaimer = brand_file.disclaimer
        brand.terms = brand_file.terms
        brand.image_urls = brand_file.imageUrls
        brand.status = brand_file.status
        brand.updated_at = now
        await session.flush()
        for item_file in brand_file.items:
            utid = item_file.utid.upper()
            item = items.get(utid)
            if item is None:
                item = CatalogItem(utid=utid, created_at=now)
                session.add(item)
                added += 1
            else:
                updated += 1
            _fill_item(item, item_file, brand.id)
            item.updated_at = now
            items[utid] = item
    await session.flush()
    return LoadResult(len(catalog.brands), added, updated)


def _fill_item(item: CatalogItem, source: ItemFile, brand_id: int) -> None:
    item.brand_id = brand_id
    item.reward_name = source.rewardName
    item.currency_code = source.currencyCode.value
    item.status = source.status
    item.value_type = source.valueType
    item.reward_type = source.rewardType
    item.face_value = source.faceValue
    item.min_value = source.minValue
    item.max_value = source.maxValue
    item.countries = source.countries
    item.credential_types = source.credentialTypes
    item.redemption_instructions = source.redemptionInstructions
    item.fulfilment = source.fulfilment


async def items_by_utid(
    session: AsyncSession, utids: Iterable[str]
) -> dict[str, CatalogItem]:
    """Catalog items by upper-case utid, for the utids given."""
    return await repository.items_by_utid(session, utids)


async def view(
    session: AsyncSession,
    *,
    brand_key: str | None = None,
    utid: str | None = None,
    currency_code: str | None = None,
    status: str | None = None,
) -> CatalogView:
    grouped = await repository.brands_with_items(
        session,
        brand_key=brand_key,
        utid=utid,
        currency_code=currency_code,
        status=status,
    )
    return CatalogView(
        catalogName=CATALOG_NAME,
        brands=[BrandView.of(brand, items) for brand, items in grouped],
    )
