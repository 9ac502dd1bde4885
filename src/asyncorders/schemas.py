"""Building blocks shared by the domain schemas: money, identifiers, pagination."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from asyncorders.pagination import Page


def _as_json_number(value: Decimal) -> float:
    # Amounts are limited to 15 significant digits on the way in, and a float's
    # repr is the shortest text that reads back to it, so the JSON number printed
    # here is exactly the stored decimal.
    return float(value)


MoneyNumber = Annotated[
    Decimal, PlainSerializer(_as_json_number, return_type=float, when_used="json")
]
MoneyInput = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2)]
Identifier = Annotated[str, Field(pattern=r"^[-a-zA-Z0-9]{5,100}$")]


class View(BaseModel):
    """Base of every response shape: plain, fast, no extra validation on output."""

    model_config = ConfigDict(frozen=True)


class Criteria(BaseModel):
    """Base of request bodies: unknown members are ignored, as Tango does.

    No text may hold the NUL character: PostgreSQL cannot store it, and a
    value one database keeps and the other refuses would split their behaviour.
    """

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain the NUL character")
        if isinstance(value, list) and any(
            isinstance(item, str) and "\x00" in item for item in value
        ):
            raise ValueError("text must not contain the NUL character")
        return value


class PaginationDTO(View):
    prevCursor: str | None
    nextCursor: str | None
    prevPageAvailable: bool
    nextPageAvailable: bool
    maxResults: int
    numberOfElements: int

    @classmethod
    def of(cls, page: Page[Any]) -> PaginationDTO:
        return cls(
            prevCursor=page.prev_cursor,
            nextCursor=page.next_cursor,
            prevPageAvailable=page.prev_available,
            nextPageAvailable=page.next_available,
            maxResults=page.max_results,
            numberOfElements=len(page.items),
        )
