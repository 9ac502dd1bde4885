"""Accept, inspect and correct async orders (contract sections 5 and 6).

Services never commit: the caller (an API request, a CLI command) owns the
transaction, so an order, its charge, its line items and its first audit event
are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders import pagination
from asyncorders.accounts import service as accounts
from asyncorders.catalog import service as catalog
from asyncorders.clock import utcnow
from asyncorders.errors import (
    CustomerOrAccountNotFound,
    EmptyUpdate,
    FieldError,
    InsufficientFunds,
    OrderNotFound,
    PreconditionFailed,
    ValidationFailed,
)
from asyncorders.fulfilment import repository as fulfilment
from asyncorders.orders import identifiers, repository, validation
from asyncorders.orders.repository import (
    NewEvent,
    OrderFilters,
    OrderMetadata,
    OrderPath,
)
from asyncorders.orders.schemas import (
    API_NAMES,
    CreateAsyncOrderCriteria,
    LineItemStatus,
    OrderStatus,
    UpdateAsyncOrderCriteria,
)
from asyncorders.orders.views import etag
from asyncorders.pagination import Page
from asyncorders.platforms.service import Caller
from asyncorders.storage.tables import Account, AsyncOrder, LineItem, OrderEvent

ORDER_CREATED = "ORDER_CREATED"
METADATA_UPDATED = "METADATA_UPDATED"
METADATA_FIELDS = ("campaign", "purchase_order_number", "notes")


@dataclass(frozen=True, slots=True)
class LineItemQuery:
    cursor: pagination.Cursor | None
    limit: int
    failed_only: bool = False
    external_refs: Sequence[str] = ()
    reference_ids: Sequence[str] = ()


# ---- create ---------------------------------------------------------------------


async def create(
    session: AsyncSession,
    caller: Caller,
    criteria: CreateAsyncOrderCriteria,
    *,
    request_id: str,
    max_line_items: int,
) -> tuple[AsyncOrder, bool]:
    """Accept an order; returns it and whether it is new.

    A repeated externalRefID in the same account returns the original order and
    charges nothing. A balance too low for the valid lines stores nothing.
    """
    if len(criteria.lineItems) > max_line_items:
        raise ValidationFailed(
            [
                FieldError(
                    "lineItems",
                    "400.002",
                    f"An order may have at most {max_line_items} line items.",
                    invalid_value=len(criteria.lineItems),
                    constraint="Size",
                )
            ]
        )
    account, _ = await _account(session, caller, criteria)
    path = OrderPath(
        criteria.customerIdentifier, criteria.accountIdentifier, criteria.externalRefID
    )
    existing = await repository.find(session, caller.platform_id, path)
    if existing is not None:
        return existing, False

    now = utcnow()
    items = await catalog.items_by_utid(session, (li.utid for li in criteria.lineItems))
    plan = validation.plan(criteria.lineItems, items, account.currency_code, now)
    if plan.total_charge > accounts.MAX_BALANCE:  # no balance can cover it
        raise _insufficient(plan, account)
    order = _new_order(caller, criteria, plan, account, now)
    try:
        async with session.begin_nested():
            session.add(order)
    except IntegrityError:
        # A concurrent request with the same externalRefID got there first.
        existing = await repository.find(session, caller.platform_id, path)
        if existing is None:
            raise
        return existing, False

    if not await accounts.charge(session, account.id, order.id, plan.total_charge):
        raise _insufficient(plan, account)
    await repository.insert_line_items(
        session, [_line_row(order, line, now) for line in plan.lines]
    )
    created = [
        {"field": "orderStatus", "old": None, "new": order.status},
        *(
            {"field": API_NAMES[name], "old": None, "new": getattr(order, name)}
            for name in METADATA_FIELDS
        ),
    ]
    await repository.insert_events(
        session,
        [_event(caller, request_id, order.id, ORDER_CREATED, now, created)],
    )
    await session.flush()
    return order, True


def _insufficient(plan: validation.Plan, account: Account) -> InsufficientFunds:
    return InsufficientFunds(
        f"The account balance does not cover this order's total of "
        f"{plan.total_charge} {account.currency_code}."
    )


async def _account(
    session: AsyncSession, caller: Caller, criteria: CreateAsyncOrderCriteria
) -> tuple[Account, str]:
    try:
        account, owner = await accounts.get_account(
            session, caller.platform_id, criteria.accountIdentifier
        )
    except CustomerOrAccountNotFound:
        owner = None
    if owner != criteria.customerIdentifier:
        raise CustomerOrAccountNotFound(
            f"No account {criteria.accountIdentifier!r} belongs to customer "
            f"{criteria.customerIdentifier!r}."
        )
    return account, owner


def _new_order(
    caller: Caller,
    criteria: CreateAsyncOrderCriteria,
    plan: validation.Plan,
    account: Account,
    now: datetime,
) -> AsyncOrder:
    reference = identifiers.reference_order_id(now)
    any_valid = any(line.valid for line in plan.lines)
    return AsyncOrder(
        reference_order_id=reference,
        platform_id=caller.platform_id,
        account_id=account.id,
        customer_identifier=criteria.customerIdentifier,
        account_identifier=criteria.accountIdentifier,
        account_number=account.account_number,
        external_ref_id=criteria.externalRefID,
        status=OrderStatus.PENDING if any_valid else OrderStatus.FAILED,
        campaign=criteria.campaign,
        purchase_order_number=criteria.purchaseOrderNumber,
        notes=criteria.notes,
        sender=criteria.sender.model_dump(exclude_none=True)
        if criteria.sender
        else None,
        currency_code=account.currency_code,
        amount_charged=plan.total_charge,
        total_line_items=len(criteria.lineItems),
        failed_line_items=[
            {
                "lineItemId": identifiers.reference_line_item_id(
                    reference, line.position
                ),
                "externalRefLineItemID": line.criteria.externalRefLineItemID,
                "utid": line.criteria.utid,
                "errors": [problem.as_dict() for problem in line.problems],
            }
            for line in plan.lines
            if not line.valid
        ],
        duplicate_line_item_ref_ids=plan.duplicates,
        version=1,
        created_at=now,
        updated_at=now,
        completed_at=None if any_valid else now,
        available_at=now,
    )


def _line_row(
    order: AsyncOrder, line: validation.PlannedLine, now: datetime
) -> dict[str, Any]:
    criteria = line.criteria
    return {
        "order_id": order.id,
        "position": line.position,
        "reference_line_item_id": identifiers.reference_line_item_id(
            order.reference_order_id, line.position
        ),
        "external_ref_line_item_id": criteria.externalRefLineItemID,
        "utid": criteria.utid.upper(),
        "reward_name": line.item.reward_name if line.item else None,
        "amount": criteria.amount,
        "currency_code": order.currency_code,
        "quantity": criteria.quantity,
        "amount_charged": line.charge if line.valid else Decimal("0.00"),
        "delivery_method": criteria.deliveryMethod.value,
        "recipient": criteria.recipient.model_dump(exclude_none=True) or None,
        "delivery_date": criteria.deliveryDate,
        "etid": (criteria.etid or "E000000").upper(),
        "ptid": criteria.ptid,
        "email_subject": criteria.emailSubject,
        "message": criteria.message,
        "line_item_note": criteria.lineItemNote,
        "shipping_method": criteria.shippingMethod,
        "expiration_date": criteria.expirationDate,
        "status": LineItemStatus.PENDING if line.valid else LineItemStatus.FAILED,
        "delivery_status": "PENDING" if line.valid else "FAILED",
        "errors": [
            {"errorCode": p.problem.name, "errorMessage": p.message}
            for p in line.problems
        ],
        "date_issued": None,
        "created_at": now,
    }


# ---- read -----------------------------------------------------------------------


async def get(session: AsyncSession, caller: Caller, path: OrderPath) -> AsyncOrder:
    order = await repository.find(session, caller.platform_id, path)
    if order is None:
        raise OrderNotFound()
    return order


async def line_items(
    session: AsyncSession, order: AsyncOrder, query: LineItemQuery
) -> Page[LineItem]:
    return await pagination.keyset_page(
        session,
        repository.line_items_query(
            order.id,
            failed_only=query.failed_only,
            external_refs=query.external_refs,
            reference_ids=query.reference_ids,
        ),
        columns=[LineItem.position],
        descending=False,
        cursor=query.cursor,
        limit=query.limit,
        key_of=lambda line: (line.position,),
        listing=f"lines:{order.id}:{query.failed_only}:"
        f"{sorted(query.external_refs)}:{sorted(query.reference_ids)}",
    )


async def rewards(
    session: AsyncSession, lines: Sequence[LineItem]
) -> dict[int, list[bytes]]:
    """The encrypted rewards of each line, in their order (none until issued)."""
    return await fulfilment.sealed_rewards(session, [line.id for line in lines])


async def list_orders(
    session: AsyncSession,
    caller: Caller,
    filters: OrderFilters,
    cursor: pagination.Cursor | None,
    limit: int,
) -> Page[AsyncOrder]:
    """Newest first. Tango leaves FAILED orders out unless asked for by status."""
    if not filters.statuses:
        filters = replace(filters, exclude_statuses=(OrderStatus.FAILED,))
    return await pagination.keyset_page(
        session,
        repository.list_query(caller.platform_id, filters),
        columns=[AsyncOrder.created_at, AsyncOrder.id],
        descending=True,
        cursor=cursor,
        limit=limit,
        key_of=lambda order: (order.created_at, order.id),
        listing=f"orders:{caller.platform_id}:{filters!r}",
    )


async def history(
    session: AsyncSession,
    order: AsyncOrder,
    cursor: pagination.Cursor | None,
    limit: int,
) -> Page[Row[OrderEvent, str, str]]:
    """The order's audit events, newest first."""
    return await pagination.keyset_page(
        session,
        repository.history_query(order.id),
        columns=[OrderEvent.id],
        descending=True,
        cursor=cursor,
        limit=limit,
        key_of=lambda row: (row[0].id,),
        listing=f"history:{order.id}",
        scalars=False,
    )


# ---- update ---------------------------------------------------------------------


async def update_metadata(
    session: AsyncSession,
    caller: Caller,
    path: OrderPath,
    patch: UpdateAsyncOrderCriteria,
    *,
    if_match: str | None,
    request_id: str,
) -> OrderMetadata:
    """Apply a merge patch of campaign, purchaseOrderNumber and notes.

    The order row is locked for the read-compare-write, so concurrent patches
    queue and each one's audit event records the values it really replaced.
    """
    wanted = wanted_changes(patch)
    key = (caller.platform_id, path)
    order = (await repository.find_many(session, [key])).get(key)
    if order is None:
        raise OrderNotFound()
    event = apply_metadata(order, caller, wanted, if_match, request_id)
    if event is not None:
        await repository.save_metadata(session, [order])
        await repository.insert_events(session, [event])
    return order


def wanted_changes(patch: UpdateAsyncOrderCriteria) -> dict[str, str | None]:
    wanted = patch.changes()
    if not wanted:
        raise EmptyUpdate()
    return wanted


def apply_metadata(
    order: OrderMetadata | None,
    caller: Caller,
    wanted: dict[str, str | None],
    if_match: str | None,
    request_id: str,
) -> NewEvent | None:
    """Change the loaded (and locked) order in memory; returns the audit event
    the caller must store with it, or None when nothing changed. Raises before
    changing anything when the patch fails."""
    if order is None:
        raise OrderNotFound()
    if if_match is not None and not etag_matches(if_match, etag(order)):
        # The current ETag comes along, so the client can read and decide again.
        raise PreconditionFailed(headers={"ETag": etag(order)})

    changes = [
        {"field": API_NAMES[name], "old": getattr(order, name), "new": value}
        for name, value in wanted.items()
        if getattr(order, name) != value
    ]
    if not changes:
        return None

    now = utcnow()
    for name, value in wanted.items():
        setattr(order, name, value)
    order.version += 1
    order.updated_at = now
    return _event(caller, request_id, order.id, METADATA_UPDATED, now, changes)


def _event(
    caller: Caller,
    request_id: str,
    order_id: int,
    kind: str,
    at: datetime,
    changes: list[dict[str, Any]],
) -> NewEvent:
    """The audit event of a change a caller's request made."""
    return NewEvent(
        order_id=order_id,
        kind=kind,
        occurred_at=at,
        platform_id=caller.platform_id,
        api_key_id=caller.key_id,
        request_id=request_id,
        changes=changes,
    )


def etag_matches(if_match: str, current: str) -> bool:
    """RFC 9110 If-Match: `*`, or a list of strong tags compared strongly."""
    candidates = [tag.strip() for tag in if_match.split(",")]
    return "*" in candidates or current in candidates
