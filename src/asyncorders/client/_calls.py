"""One function per endpoint of contract section 4, each building its `Call`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from asyncorders.client._models import (
    Account,
    AsyncOrderDetail,
    AsyncOrderEntity,
    AsyncOrderLineItems,
    AsyncOrderList,
    AsyncOrderUpdate,
    Catalog,
    Customer,
    NewAsyncOrder,
    OrderHistory,
    OrderPatch,
)
from asyncorders.client._protocol import Call, drop_none, encode, many, one, path, query

DateLike = str | date | datetime


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """Filters of `GET /asyncOrders`; `extra` passes any other Tango filter."""

    account_identifier: str | None = None
    customer_identifier: str | None = None
    external_ref_id: str | None = None
    start_date: DateLike | None = None
    end_date: DateLike | None = None
    order_status: str | None = None
    campaign: str | None = None
    purchase_order_number: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def params(self) -> tuple[tuple[str, str], ...]:
        return query(
            accountIdentifier=self.account_identifier,
            customerIdentifier=self.customer_identifier,
            externalRefID=self.external_ref_id,
            startDate=self.start_date,
            endDate=self.end_date,
            orderStatus=self.order_status,
            campaign=self.campaign,
            purchaseOrderNumber=self.purchase_order_number,
        ) + tuple(self.extra.items())


@dataclass(frozen=True, slots=True)
class LineItemFilters:
    """Filters of an order's line items (summary and credentials views)."""

    external_ref_line_item_ids: Sequence[str] = ()
    reference_line_item_ids: Sequence[str] = ()
    failed_only: bool = False

    def params(self) -> tuple[tuple[str, str], ...]:
        return query(
            externalRefLineItemIDs=list(self.external_ref_line_item_ids),
            referenceLineItemIDs=list(self.reference_line_item_ids),
            failedOnly=True if self.failed_only else None,
        )


def _order_path(customer: str, account: str, external_ref_id: str, *rest: str) -> str:
    return path(
        "asyncOrders",
        "customers",
        customer,
        "accounts",
        account,
        external_ref_id,
        *rest,
    )


def _page(
    max_results: int | None, next_cursor: str | None
) -> tuple[tuple[str, str], ...]:
    return query(maxResults=max_results, nextCursor=next_cursor)


# ---- async orders ---------------------------------------------------------------


def create_order(order: NewAsyncOrder | Mapping[str, Any]) -> Call[AsyncOrderEntity]:
    body = (
        order.model_dump(exclude_none=True)
        if isinstance(order, NewAsyncOrder)
        else dict(order)
    )
    # The externalRefID is what makes a repeat harmless: the server answers
    # 200 with the original order instead of making a second one.
    return Call(
        "POST",
        path("asyncOrders"),
        one(AsyncOrderEntity),
        body=encode(body),
        idempotent=bool(body.get("externalRefID")),
    )


def list_orders(
    filters: OrderFilters | None,
    max_results: int | None,
    next_cursor: str | None,
) -> Call[AsyncOrderList]:
    params = (filters or OrderFilters()).params() + _page(max_results, next_cursor)
    return Call("GET", path("asyncOrders"), one(AsyncOrderList), params=params)


def get_order(
    customer: str,
    account: str,
    external_ref_id: str,
    filters: LineItemFilters | None,
    max_results: int | None,
    next_cursor: str | None,
) -> Call[AsyncOrderDetail]:
    params = (filters or LineItemFilters()).params() + _page(max_results, next_cursor)
    return Call(
        "GET",
        _order_path(customer, account, external_ref_id),
        one(AsyncOrderDetail),
        params=params,
    )


def patch_order(
    customer: str,
    account: str,
    external_ref_id: str,
    changes: OrderPatch | Mapping[str, str | None],
    if_match: str | None,
) -> Call[AsyncOrderUpdate]:
    body = changes.body() if isinstance(changes, OrderPatch) else dict(changes)
    return Call(
        "PATCH",
        _order_path(customer, account, external_ref_id),
        one(AsyncOrderUpdate),
        body=encode(body),
        headers=drop_none({"If-Match": if_match}),
    )


def line_items(
    customer: str,
    account: str,
    external_ref_id: str,
    filters: LineItemFilters | None,
    max_results: int | None,
    next_cursor: str | None,
) -> Call[AsyncOrderLineItems]:
    params = (filters or LineItemFilters()).params() + _page(max_results, next_cursor)
    return Call(
        "GET",
        _order_path(customer, account, external_ref_id, "lineItems"),
        one(AsyncOrderLineItems),
        params=params,
    )


def history(
    customer: str,
    account: str,
    external_ref_id: str,
    max_results: int | None,
    next_cursor: str | None,
) -> Call[OrderHistory]:
    return Call(
        "GET",
        _order_path(customer, account, external_ref_id, "history"),
        one(OrderHistory),
        params=_page(max_results, next_cursor),
    )


# ---- customers and accounts -----------------------------------------------------


def create_customer(customer_identifier: str, display_name: str) -> Call[Customer]:
    body = {"customerIdentifier": customer_identifier, "displayName": display_name}
    # A repeat after a lost answer would meet 409, not make a second customer;
    # still, it is not the same answer, so only refusals (429, 503) are retried.
    return Call(
        "POST", path("customers"), one(Customer), body=encode(body), idempotent=False
    )


def get_customer(customer_identifier: str) -> Call[Customer]:
    return Call("GET", path("customers", customer_identifier), one(Customer))


def list_customers() -> Call[list[Customer]]:
    return Call("GET", path("customers"), many(Customer))


def create_account(
    customer_identifier: str,
    account_identifier: str,
    display_name: str,
    contact_email: str,
    currency_code: str,
) -> Call[Account]:
    body = {
        "accountIdentifier": account_identifier,
        "displayName": display_name,
        "contactEmail": contact_email,
        "currencyCode": currency_code,
    }
    return Call(
        "POST",
        path("customers", customer_identifier, "accounts"),
        one(Account),
        body=encode(body),
        idempotent=False,
    )


def get_account(account_identifier: str) -> Call[Account]:
    return Call("GET", path("accounts", account_identifier), one(Account))


def list_accounts(customer_identifier: str) -> Call[list[Account]]:
    return Call(
        "GET", path("customers", customer_identifier, "accounts"), many(Account)
    )


def catalog(
    brand_key: str | None,
    utid: str | None,
    currency_code: str | None,
    status: str | None,
) -> Call[Catalog]:
    params = query(
        brandKey=brand_key, utid=utid, currencyCode=currency_code, status=status
    )
    return Call("GET", path("catalogs"), one(Catalog), params=params)
