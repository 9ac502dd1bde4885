"""GET /catalogs and loading the catalog file."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, select

from asyncorders.catalog import service as catalog
from asyncorders.catalog.schemas import CatalogFile
from asyncorders.demo.seed import demo_catalog
from asyncorders.storage.engine import Database
from asyncorders.storage.tables import Brand, CatalogItem
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant, make_tenant

pytestmark = pytest.mark.anyio

ITEM_KEYS = {
    "utid",
    "rewardName",
    "currencyCode",
    "status",
    "valueType",
    "rewardType",
    "isWholeAmountValueRequired",
    "faceValue",
    "minValue",
    "maxValue",
    "countries",
    "credentialTypes",
    "redemptionInstructions",
    "createdDate",
    "lastUpdateDate",
}
BRAND_KEYS = {
    "brandKey",
    "brandName",
    "description",
    "shortDescription",
    "disclaimer",
    "terms",
    "imageUrls",
    "status",
    "createdDate",
    "lastUpdateDate",
    "items",
}
DEMO_UTIDS = ["U000001", "U000002", "U000003", "U000004", "U000005", "U999001"]


def exact(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


def utids(body: dict[str, Any]) -> list[str]:
    return [item["utid"] for brand in body["brands"] for item in brand["items"]]


def brand_keys(body: dict[str, Any]) -> list[str]:
    return [brand["brandKey"] for brand in body["brands"]]


async def _catalog(api: Api, tenant: Tenant, **params: str) -> dict[str, Any]:
    response = await api.http.get("/catalogs", params=params, auth=tenant.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = exact(response)
    return body


async def _load(db: Database, source: CatalogFile) -> catalog.LoadResult:
    async with db.sessions() as session:
        result = await catalog.load(session, source)
        await session.commit()
    return result


def _small_catalog(**item_overrides: Any) -> CatalogFile:
    return CatalogFile.model_validate(
        {
            "brands": [
                {
                    "brandKey": "B100",
                    "brandName": "Test Brand",
                    "items": [
                        {
                            "utid": "U100",
                            "rewardName": "Test reward",
                            "currencyCode": "USD",
                            "valueType": "FIXED_VALUE",
                            "faceValue": "10.50",
                            **item_overrides,
                        }
                    ],
                }
            ]
        }
    )


async def _counts(db: Database) -> tuple[int, int]:
    async with db.sessions() as session:
        brands = await session.scalar(select(func.count()).select_from(Brand))
        items = await session.scalar(select(func.count()).select_from(CatalogItem))
    return brands or 0, items or 0


async def test_catalog_lists_brands_with_their_items(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant)

    assert body["catalogName"]
    assert brand_keys(body) == ["B000001", "B000002", "B999999"]
    assert utids(body) == DEMO_UTIDS
    for brand in body["brands"]:
        assert set(brand) == BRAND_KEYS
        assert brand["items"]
        for item in brand["items"]:
            assert set(item) == ITEM_KEYS


async def test_catalog_items_carry_their_values(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant)
    items = {item["utid"]: item for b in body["brands"] for item in b["items"]}

    fixed = items["U000001"]
    assert fixed["rewardName"] == "Northwind Books Gift Card $25"
    assert fixed["valueType"] == "FIXED_VALUE"
    assert fixed["faceValue"] == Decimal("25")
    assert fixed["minValue"] is None
    assert fixed["maxValue"] is None
    assert fixed["currencyCode"] == "USD"
    assert fixed["status"] == "active"
    variable = items["U000002"]
    assert variable["valueType"] == "VARIABLE_VALUE"
    assert variable["faceValue"] is None
    assert variable["minValue"] == Decimal("1")
    assert variable["maxValue"] == Decimal("2000")
    assert items["U000004"]["currencyCode"] == "EUR"
    assert items["U000005"]["status"] == "inactive"


async def test_catalog_needs_credentials(api: Api, tenant: Tenant) -> None:
    response = await api.http.get("/catalogs")

    assert_envelope(response, 401, "401.001")


async def test_filter_by_utid(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant, utid="U000003")

    assert brand_keys(body) == ["B000002"]
    assert utids(body) == ["U000003"]


async def test_filter_by_utid_ignores_case(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant, utid="u000003")

    assert utids(body) == ["U000003"]


async def test_filter_by_brand_key(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant, brandKey="B000001")

    assert brand_keys(body) == ["B000001"]
    assert utids(body) == ["U000001", "U000002"]


async def test_filter_by_currency_code(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant, currencyCode="EUR")

    assert utids(body) == ["U000004"]


async def test_filter_by_status(api: Api, tenant: Tenant) -> None:
    inactive = await _catalog(api, tenant, status="inactive")
    active = await _catalog(api, tenant, status="active")

    assert utids(inactive) == ["U000005"]
    assert "U000005" not in utids(active)
    assert sorted(utids(active) + utids(inactive)) == DEMO_UTIDS


async def test_filters_combine(api: Api, tenant: Tenant) -> None:
    body = await _catalog(api, tenant, brandKey="B000002", currencyCode="USD")

    assert utids(body) == ["U000003", "U000005"]


async def test_filter_without_matches_answers_an_empty_catalog(
    api: Api, tenant: Tenant
) -> None:
    body = await _catalog(api, tenant, utid="U123456")

    assert body["brands"] == []


async def test_filter_too_long_answers_400(api: Api, tenant: Tenant) -> None:
    response = await api.http.get(
        "/catalogs", params={"currencyCode": "DOLLARS"}, auth=tenant.auth
    )

    body = assert_envelope(response, 400, "400.002")
    assert [p["path"] for p in body["errors"]] == ["currencyCode"]


async def test_empty_catalog_has_no_brands(api: Api, db: Database) -> None:
    tenant = await make_tenant(api.runtime, "acme")
    async with db.sessions() as session:
        await session.execute(delete(CatalogItem))
        await session.execute(delete(Brand))
        await session.commit()

    body = await _catalog(api, tenant)

    assert body["brands"] == []


# ---- loading -------------------------------------------------------------------------


async def test_loading_the_same_file_twice_updates_instead_of_duplicating(
    api: Api, tenant: Tenant, db: Database
) -> None:
    before = await _catalog(api, tenant)
    counts = await _counts(db)

    result = await _load(db, demo_catalog())

    assert result.items_added == 0
    assert result.items_updated == len(DEMO_UTIDS)
    assert result.brands == 3
    assert await _counts(db) == counts == (3, len(DEMO_UTIDS))
    after = await _catalog(api, tenant)
    assert brand_keys(after) == brand_keys(before)
    assert utids(after) == utids(before)
    for old, new in zip(before["brands"], after["brands"], strict=True):
        assert new["createdDate"] == old["createdDate"]
        for old_item, new_item in zip(old["items"], new["items"], strict=True):
            assert new_item["createdDate"] == old_item["createdDate"]


async def test_loading_a_changed_file_updates_items_in_place(
    api: Api, tenant: Tenant, db: Database
) -> None:
    first = await _load(db, _small_catalog())
    second = await _load(
        db,
        _small_catalog(
            utid="u100",
            rewardName="Renamed reward",
            valueType="VARIABLE_VALUE",
            faceValue=None,
            minValue="1.25",
            maxValue="99.99",
            currencyCode="EUR",
            status="inactive",
        ),
    )

    assert (first.items_added, first.items_updated) == (1, 0)
    assert (second.items_added, second.items_updated) == (0, 1)
    body = await _catalog(api, tenant, brandKey="B100")
    ((item,),) = [brand["items"] for brand in body["brands"]]
    assert item["utid"] == "U100"
    assert item["rewardName"] == "Renamed reward"
    assert item["valueType"] == "VARIABLE_VALUE"
    assert item["faceValue"] is None
    assert item["minValue"] == Decimal("1.25")
    assert item["maxValue"] == Decimal("99.99")
    assert item["currencyCode"] == "EUR"
    assert item["status"] == "inactive"
    assert item["lastUpdateDate"] >= item["createdDate"]


async def test_loaded_face_value_is_exact(
    api: Api, tenant: Tenant, db: Database
) -> None:
    await _load(db, _small_catalog(faceValue="1234567.89"))

    body = await _catalog(api, tenant, utid="U100")

    ((item,),) = [brand["items"] for brand in body["brands"]]
    assert item["faceValue"] == Decimal("1234567.89")


async def test_an_item_can_move_to_another_brand(
    api: Api, tenant: Tenant, db: Database
) -> None:
    await _load(db, _small_catalog())
    moved = CatalogFile.model_validate(
        {
            "brands": [
                {
                    "brandKey": "B200",
                    "brandName": "Other Brand",
                    "items": [
                        {
                            "utid": "U100",
                            "rewardName": "Test reward",
                            "currencyCode": "USD",
                            "valueType": "FIXED_VALUE",
                            "faceValue": 10,
                        }
                    ],
                }
            ]
        }
    )

    await _load(db, moved)

    body = await _catalog(api, tenant, utid="U100")
    assert brand_keys(body) == ["B200"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"valueType": "FIXED_VALUE", "faceValue": None},
        {"valueType": "VARIABLE_VALUE", "faceValue": None, "minValue": 5},
        {
            "valueType": "VARIABLE_VALUE",
            "faceValue": None,
            "minValue": 10,
            "maxValue": 5,
        },
        {"utid": "X100"},
        {"currencyCode": "XYZ"},
        {"faceValue": "1.234"},
        {"faceValue": -1},
        {"fulfilment": "SOMETIMES"},
    ],
)
def test_invalid_catalog_items_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _small_catalog(**overrides)
