"""The async-order endpoints (contract sections 4 to 6)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from starlette.responses import Response

from asyncorders import pagination
from asyncorders.api import responses
from asyncorders.api.deps import (
    CallerDep,
    Runtime,
    SessionDep,
    body_doc,
    json_body,
    request_id,
    runtime,
)
from asyncorders.catalog import service as catalog
from asyncorders.clock import in_utc
from asyncorders.errors import FieldError, ValidationFailed
from asyncorders.orders import service, views
from asyncorders.orders.repository import OrderFilters, OrderPath
from asyncorders.orders.schemas import (
    AsyncOrderDetailView,
    AsyncOrderEntity,
    AsyncOrderLineItemsView,
    AsyncOrderListView,
    AsyncOrderUpdatedView,
    CreateAsyncOrderCriteria,
    OrderHistoryView,
    OrderStatus,
    UpdateAsyncOrderCriteria,
)
from asyncorders.schemas import PaginationDTO

router = APIRouter(tags=["Async orders"])

ORDER_PATH = (
    "/asyncOrders/customers/{customerIdentifier}/accounts/{accountIdentifier}"
    "/{externalRefID}"
)
MAX_ID_FILTERS = 50
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"([Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})?)?\Z"
)

RequestIdDep = Annotated[str, Depends(request_id)]
Cursor = Annotated[str | None, Query(max_length=512)]


async def order_path(
    customerIdentifier: Annotated[str, Path(min_length=1, max_length=100)],
    accountIdentifier: Annotated[str, Path(min_length=1, max_length=100)],
    externalRefID: Annotated[str, Path(min_length=1, max_length=100)],
) -> OrderPath:
    return OrderPath(customerIdentifier, accountIdentifier, externalRefID)


OrderPathDep = Annotated[OrderPath, Depends(order_path)]


@router.post(
    "/asyncOrders",
    response_model=AsyncOrderEntity,
    status_code=202,
    responses={
        200: {
            "model": AsyncOrderEntity,
            "description": "The account already has an order with this "
            "externalRefID: the original is returned and nothing is charged.",
        },
        **responses.errors(400, 402, 404, 413, 415),
    },
    openapi_extra=body_doc(CreateAsyncOrderCriteria),
)
async def create_async_order(
    who: CallerDep,
    db: SessionDep,
    rid: RequestIdDep,
    rt: Annotated[Runtime, Depends(runtime)],
    body: Annotated[
        CreateAsyncOrderCriteria, Depends(json_body(CreateAsyncOrderCriteria))
    ],
) -> Response:
    """Accept a bulk reward order for background fulfilment.

    Each line item is checked on its own: failing lines are listed in
    `failedLineItems` and not fulfilled, the others go on. The valid lines'
    total is charged to the account at once (402 and nothing stored when the
    balance is too low). A repeated `externalRefLineItemID` is fulfilled once
    and counted in `duplicateLineItemRefIds`.
    """
    order, created = await service.create(
        db,
        who,
        body,
        request_id=rid,
        max_line_items=rt.settings.max_line_items,
    )
    await db.commit()
    return responses.json(
        views.entity(order),
        status=202 if created else 200,
        headers={"ETag": views.etag(order)},
    )


@router.get(
    "/asyncOrders",
    response_model=AsyncOrderListView,
    responses=responses.errors(400),
)
async def list_async_orders(
    who: CallerDep,
    db: SessionDep,
    accountIdentifier: Annotated[str | None, Query(max_length=100)] = None,
    customerIdentifier: Annotated[str | None, Query(max_length=100)] = None,
    externalRefID: Annotated[str | None, Query(max_length=100)] = None,
    startDate: Annotated[str | None, Query(max_length=40)] = None,
    endDate: Annotated[str | None, Query(max_length=40)] = None,
    orderStatus: Annotated[OrderStatus | None, Query()] = None,
    campaign: Annotated[str | None, Query(max_length=1024)] = None,
    purchaseOrderNumber: Annotated[str | None, Query(max_length=255)] = None,
    maxResults: Annotated[int, Query(ge=1, le=200)] = 50,
    prevCursor: Cursor = None,
    nextCursor: Cursor = None,
) -> Response:
    """The platform's async orders, newest first, a cursor page at a time.

    As in Tango, FAILED orders are left out unless `orderStatus=FAILED` asks for
    them. Dates are RFC 3339 dates or date-times; a date `endDate` includes
    that whole day.
    """
    start, _ = _date_bound("startDate", startDate, end=False)
    end, end_inclusive = _date_bound("endDate", endDate, end=True)
    filters = OrderFilters(
        account_identifier=accountIdentifier,
        customer_identifier=customerIdentifier,
        external_ref_id=externalRefID,
        start=start,
        end=end,
        end_inclusive=end_inclusive,
        statuses=(orderStatus.value,) if orderStatus else (),
        campaign=campaign,
        purchase_order_number=purchaseOrderNumber,
    )
    cursor = pagination.decode(prevCursor, nextCursor, (datetime, pagination.ROW_ID))
    page = await service.list_orders(db, who, filters, cursor, maxResults)
    return responses.json(
        AsyncOrderListView(
            prevCursor=page.prev_cursor,
            nextCursor=page.next_cursor,
            prevPageAvailable=page.prev_available,
            nextPageAvailable=page.next_available,
            maxResults=maxResults,
            orders=[views.summary_row(order) for order in page.items],
        )
    )


@router.get(
    ORDER_PATH,
    response_model=AsyncOrderDetailView,
    responses=responses.errors(400, 404),
)
async def get_async_order(
    who: CallerDep,
    db: SessionDep,
    path: OrderPathDep,
    maxResults: Annotated[int, Query(ge=1, le=500)] = 100,
    prevCursor: Cursor = None,
    nextCursor: Cursor = None,
    externalRefLineItemIDs: Annotated[list[str] | None, Query()] = None,
    referenceLineItemIDs: Annotated[list[str] | None, Query()] = None,
    failedOnly: bool = False,
) -> Response:
    """An order's summary with a cursor page of its line items, no credentials."""
    order = await service.get(db, who, path)
    query = _line_item_query(
        maxResults,
        prevCursor,
        nextCursor,
        externalRefLineItemIDs,
        referenceLineItemIDs,
        failedOnly,
    )
    page = await service.line_items(db, order, query)
    view = AsyncOrderDetailView(
        referenceOrderID=order.reference_order_id,
        externalRefID=order.external_ref_id,
        orderStatus=order.status,
        createdAt=order.created_at,
        completedAt=order.completed_at,
        customerIdentifier=order.customer_identifier,
        accountIdentifier=order.account_identifier,
        sender=views.sender(order),
        amountCharged=views.amount_charged(order),
        campaign=order.campaign,
        purchaseOrderNumber=order.purchase_order_number,
        notes=order.notes,
        totalLineItems=order.total_line_items,
        pagination=PaginationDTO.of(page),
        orderErrors=views.order_errors(order),
        lineItems=[views.line_item(line) for line in page.items],
    )
    return responses.json(view, headers={"ETag": views.etag(order)})


@router.patch(
    ORDER_PATH,
    response_model=AsyncOrderUpdatedView,
    responses=responses.errors(400, 404, 412, 413, 415),
    openapi_extra=body_doc(UpdateAsyncOrderCriteria),
)
async def update_async_order(
    who: CallerDep,
    db: SessionDep,
    rid: RequestIdDep,
    path: OrderPathDep,
    body: Annotated[
        UpdateAsyncOrderCriteria, Depends(json_body(UpdateAsyncOrderCriteria))
    ],
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Response:
    """Correct an order's campaign, purchaseOrderNumber or notes.

    The body is a JSON Merge Patch: present members replace, `null` clears,
    absent members stay. Every change is recorded in the order's history with
    its old and new values. With `If-Match` (an extension), a stale ETag
    answers 412 with the current `ETag` and changes nothing.
    """
    order = await service.update_metadata(
        db, who, path, body, if_match=if_match, request_id=rid
    )
    await db.commit()
    return responses.json(views.updated(order), headers={"ETag": views.etag(order)})


@router.get(
    ORDER_PATH + "/lineItems",
    response_model=AsyncOrderLineItemsView,
    responses=responses.errors(400, 404),
)
async def get_async_order_line_items(
    who: CallerDep,
    db: SessionDep,
    rt: Annotated[Runtime, Depends(runtime)],
    path: OrderPathDep,
    maxResults: Annotated[int, Query(ge=1, le=100)] = 50,
    prevCursor: Cursor = None,
    nextCursor: Cursor = None,
    externalRefLineItemIDs: Annotated[list[str] | None, Query()] = None,
    referenceLineItemIDs: Annotated[list[str] | None, Query()] = None,
    failedOnly: bool = False,
) -> Response:
    """An order's line items with their reward credentials, a cursor page at a time."""
    order = await service.get(db, who, path)
    query = _line_item_query(
        maxResults,
        prevCursor,
        nextCursor,
        externalRefLineItemIDs,
        referenceLineItemIDs,
        failedOnly,
    )
    page = await service.line_items(db, order, query)
    items = await catalog.items_by_utid(db, {line.utid for line in page.items})
    rewards = await service.rewards(db, page.items)
    instructions = {utid: item.redemption_instructions for utid, item in items.items()}
    view = AsyncOrderLineItemsView(
        referenceOrderID=order.reference_order_id,
        externalRefID=order.external_ref_id,
        accountIdentifier=order.account_identifier,
        customerIdentifier=order.customer_identifier,
        sender=views.sender(order),
        amountCharged=views.amount_charged(order),
        purchaseOrderNumber=order.purchase_order_number,
        campaign=order.campaign,
        orderNotes=order.notes,
        orderStatus=order.status,
        orderErrors=views.order_errors(order),
        pagination=PaginationDTO.of(page),
        lineItems=[
            views.line_item_verbose(
                line,
                rewards.get(line.id, []),
                rt.vault.reveal,
                instructions.get(line.utid, ""),
            )
            for line in page.items
        ],
    )
    return responses.json(view, headers={"ETag": views.etag(order)})


@router.get(
    ORDER_PATH + "/history",
    response_model=OrderHistoryView,
    responses=responses.errors(400, 404),
)
async def get_async_order_history(
    who: CallerDep,
    db: SessionDep,
    path: OrderPathDep,
    maxResults: Annotated[int, Query(ge=1, le=200)] = 50,
    prevCursor: Cursor = None,
    nextCursor: Cursor = None,
) -> Response:
    """Extension: the order's audit trail, newest first.

    Each event says when, which platform and key, under which request id, and
    every changed field with its old and new value.
    """
    order = await service.get(db, who, path)
    cursor = pagination.decode(prevCursor, nextCursor, (pagination.ROW_ID,))
    page = await service.history(db, order, cursor, maxResults)
    view = OrderHistoryView(
        referenceOrderID=order.reference_order_id,
        externalRefID=order.external_ref_id,
        pagination=PaginationDTO.of(page),
        events=[views.event(event, name, key) for event, name, key in page.items],
    )
    return responses.json(view, headers={"ETag": views.etag(order)})


def _line_item_query(
    limit: int,
    prev_cursor: str | None,
    next_cursor: str | None,
    external_refs: list[str] | None,
    reference_ids: list[str] | None,
    failed_only: bool,
) -> service.LineItemQuery:
    return service.LineItemQuery(
        cursor=pagination.decode(prev_cursor, next_cursor, (pagination.POSITION,)),
        limit=limit,
        failed_only=failed_only,
        external_refs=_id_list("externalRefLineItemIDs", external_refs),
        reference_ids=_id_list("referenceLineItemIDs", reference_ids),
    )


def _id_list(name: str, values: list[str] | None) -> list[str]:
    """Ids sent repeated or comma-separated; at most 50."""
    ids = [part for value in values or [] for part in value.split(",") if part]
    if len(ids) > MAX_ID_FILTERS:
        raise ValidationFailed(
            [
                FieldError(
                    name,
                    "400.002",
                    f"At most {MAX_ID_FILTERS} ids may be given.",
                    invalid_value=len(ids),
                    constraint="Size",
                )
            ]
        )
    return ids


def _date_bound(
    name: str, value: str | None, *, end: bool
) -> tuple[datetime | None, bool]:
    """A date filter as a UTC instant, and whether the bound is inclusive.

    An RFC 3339 date (`2016-01-01`) or date-time (`2016-01-01T00:00:00Z`); a
    date `endDate` includes that whole day.
    """
    if value is None:
        return None, True
    try:
        if not _RFC3339.match(value):
            raise ValueError
        if len(value) == len("2016-01-01"):
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, time.min, UTC), not end
        return in_utc(datetime.fromisoformat(value)), True
    except (ValueError, OverflowError):
        raise ValidationFailed(
            [
                FieldError(
                    name,
                    "400.002",
                    f"{name} must be an RFC 3339 date or date-time "
                    "between the years 1 and 9999 in UTC.",
                    invalid_value=value,
                    constraint="Pattern",
                )
            ]
        ) from None
