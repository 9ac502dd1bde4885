"""The reward catalog, shaped as Tango's CatalogViewVerbose.

The same shape is the file format that `asyncorders catalog load` reads, with one
extension per item: `fulfilment`, `ALWAYS_FAIL` for sandbox items whose
fulfilment fails on purpose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, model_validator

from asyncorders.accounts.schemas import Currency
from asyncorders.schemas import Criteria, MoneyInput, MoneyNumber, View
from asyncorders.storage.tables import Brand, CatalogItem

Utid = Annotated[str, Field(pattern=r"^[uU]\d+$", max_length=32)]
ItemStatus = Literal["active", "inactive", "test", "deleted"]
ValueType = Literal["FIXED_VALUE", "VARIABLE_VALUE"]


class ItemFile(Criteria):
    utid: Utid
    rewardName: Annotated[str, Field(min_length=1, max_length=200)]
    currencyCode: Currency
    status: ItemStatus = "active"
    valueType: ValueType
    rewardType: Annotated[str, Field(max_length=32)] = "gift card"
    faceValue: MoneyInput | None = None
    minValue: MoneyInput | None = None
    maxValue: MoneyInput | None = None
    countries: list[str] = Field(default_factory=list)
    credentialTypes: list[str] = Field(default_factory=lambda: ["cardNumber", "pin"])
    redemptionInstructions: Annotated[str, Field(max_length=4000)] = ""
    fulfilment: Literal["NORMAL", "ALWAYS_FAIL"] = "NORMAL"

    @model_validator(mode="after")
    def _values_fit_type(self) -> ItemFile:
        if self.valueType == "FIXED_VALUE" and self.faceValue is None:
            raise ValueError("a FIXED_VALUE item needs faceValue")
        if self.valueType == "VARIABLE_VALUE":
            if self.minValue is None or self.maxValue is None:
                raise ValueError("a VARIABLE_VALUE item needs minValue and maxValue")
            if self.minValue > self.maxValue:
                raise ValueError("minValue is above maxValue")
        return self


class BrandFile(Criteria):
    brandKey: Annotated[str, Field(min_length=1, max_length=32)]
    brandName: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=4000)] = ""
    shortDescription: Annotated[str, Field(max_length=1000)] = ""
    disclaimer: Annotated[str, Field(max_length=4000)] = ""
    terms: Annotated[str, Field(max_length=4000)] = ""
    imageUrls: dict[str, str] = Field(default_factory=dict)
    status: Literal["active", "inactive"] = "active"
    items: list[ItemFile]


class CatalogFile(Criteria):
    catalogName: str = "asyncorders catalog"
    brands: list[BrandFile]


class ItemView(View):
    utid: str
    rewardName: str
    currencyCode: str
    status: str
    valueType: str
    rewardType: str
    isWholeAmountValueRequired: bool
    faceValue: MoneyNumber | None
    minValue: MoneyNumber | None
    maxValue: MoneyNumber | None
    countries: list[str]
    credentialTypes: list[str]
    redemptionInstructions: str
    createdDate: datetime
    lastUpdateDate: datetime

    @classmethod
    def of(cls, item: CatalogItem) -> ItemView:
        return cls(
            utid=item.utid,
            rewardName=item.reward_name,
            currencyCode=item.currency_code,
            status=item.status,
            valueType=item.value_type,
            rewardType=item.reward_type,
            isWholeAmountValueRequired=False,
            faceValue=item.face_value,
            minValue=item.min_value,
            maxValue=item.max_value,
            countries=item.countries,
            credentialTypes=item.credential_types,
            redemptionInstructions=item.redemption_instructions,
            createdDate=item.created_at,
            lastUpdateDate=item.updated_at,
        )


class BrandView(View):
    brandKey: str
    brandName: str
    description: str
    shortDescription: str
    disclaimer: str
    terms: str
    imageUrls: dict[str, str]
    status: str
    createdDate: datetime
    lastUpdateDate: datetime
    items: list[ItemView]

    @classmethod
    def of(cls, brand: Brand, items: list[CatalogItem]) -> BrandView:
        return cls(
            brandKey=brand.brand_key,
            brandName=brand.brand_name,
            description=brand.description,
            shortDescription=brand.short_description,
            disclaimer=brand.disclaimer,
            terms=brand.terms,
            imageUrls=brand.image_urls,
            status=brand.status,
            createdDate=brand.created_at,
            lastUpdateDate=brand.updated_at,
            items=[ItemView.of(item) for item in items],
        )


class CatalogView(View):
    catalogName: str
    brands: list[BrandView]
