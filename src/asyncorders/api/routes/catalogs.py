"""The reward catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from asyncorders.api import responses
from asyncorders.api.deps import CallerDep, SessionDep
from asyncorders.catalog import service
from asyncorders.catalog.schemas import CatalogView

router = APIRouter(tags=["Catalog"])


@router.get("/catalogs", response_model=CatalogView, responses=responses.errors(400))
async def get_catalog(
    _: CallerDep,
    db: SessionDep,
    brandKey: Annotated[str | None, Query(max_length=32)] = None,
    utid: Annotated[str | None, Query(max_length=32)] = None,
    currencyCode: Annotated[str | None, Query(max_length=3)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    """Brands with their reward items, filtered by brand, utid, currency or status."""
    view = await service.view(
        db, brand_key=brandKey, utid=utid, currency_code=currencyCode, status=status
    )
    return responses.json(view)
