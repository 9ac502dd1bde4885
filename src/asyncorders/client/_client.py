"""`Client` and `AsyncClient`: the same methods, one blocking and one async.

Both build their requests with `_calls` and read the answers with `_protocol`;
all they do themselves is send, and wait between attempts as `RetryPolicy`
says. `sleep` can be replaced, so tests can see the waits without waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from asyncorders.client import _calls, _pages
from asyncorders.client._calls import LineItemFilters, OrderFilters
from asyncorders.client._errors import ApiError, ClientError, TransportError, translated
from asyncorders.client._models import (
    Account,
    AsyncLineItem,
    AsyncLineItemVerbose,
    AsyncOrderDetail,
    AsyncOrderEntity,
    AsyncOrderLineItems,
    AsyncOrderList,
    AsyncOrderSummary,
    AsyncOrderUpdate,
    Catalog,
    Customer,
    NewAsyncOrder,
    OrderEvent,
    OrderHistory,
    OrderPatch,
)
from asyncorders.client._protocol import Call, build_request, request_id
from asyncorders.client._retry import DEFAULT_RETRY, RetryPolicy, log_retry

T = TypeVar("T")

LOCAL_URL = "http://127.0.0.1:8000/raas/v2"
TANGO_SANDBOX_URL = "https://integration-api.tangocard.com/raas/v2"
TANGO_PRODUCTION_URL = "https://api.tangocard.com/raas/v2"

Auth = tuple[str, str] | httpx.Auth
Patch = OrderPatch | Mapping[str, str | None]
NewOrder = NewAsyncOrder | Mapping[str, Any]


class _Retrying:
    """The decision and the log line shared by both send loops."""

    def __init__(self, policy: RetryPolicy, rand: Callable[[], float]) -> None:
        self.policy = policy
        self.rand = rand

    def wait(
        self, call: Call[Any], request: httpx.Request, attempt: int, error: ClientError
    ) -> float | None:
        wait = self.policy.delay(
            attempt, error, idempotent=call.idempotent, rand=self.rand
        )
        if wait is not None:
            rid = error.request_id if isinstance(error, ApiError) else None
            log_retry(
                method=call.method,
                path=request.url.path,
                attempt=attempt,
                wait=wait,
                error=error,
                request_id=rid or request_id(request, None),
            )
        return wait


def _options(
    base_url: str,
    auth: Auth | None,
    timeout: float | httpx.Timeout,
    headers: Mapping[str, str] | None,
) -> dict[str, Any]:
    return {
        "base_url": base_url.rstrip("/") + "/",
        "auth": auth,
        "timeout": timeout,
        "headers": {"Accept": "application/json", **(headers or {})},
        "follow_redirects": False,
    }


class Client:
    """A blocking client of asyncorders or the Tango rewards API.

    >>> with Client(TANGO_SANDBOX_URL, auth=("my-platform", key)) as tango:
    ...     order = tango.get_order("cust-1", "acct-1", "batch-2026-10")

    `auth` is (platform name, API key) for HTTP Basic, or any `httpx.Auth`.
    `headers` go on every request (e.g. asyncorders' sandbox `X-Simulate`).
    """

    def __init__(
        self,
        base_url: str = LOCAL_URL,
        *,
        auth: Auth | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float | httpx.Timeout = 30.0,
        headers: Mapping[str, str] | None = None,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._http = httpx.Client(
            **_options(base_url, auth, timeout, headers),
            limits=limits or httpx.Limits(),
            transport=transport,
        )
        self._retrying = _Retrying(retry, rand)
        self._sleep = sleep

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, call: Call[T]) -> T:
        """Send one call, retrying as the policy allows."""
        attempt = 1
        while True:
            request = build_request(self._http, call)
            try:
                with translated(request):
                    response = self._http.send(request)
                return call.read(response)
            except (ApiError, TransportError) as error:
                wait = self._retrying.wait(call, request, attempt, error)
                if wait is None:
                    raise
            self._sleep(wait)
            attempt += 1

    # ---- async orders -----------------------------------------------------------

    def create_order(self, order: NewOrder) -> AsyncOrderEntity:
        """Submit an order; `.created` is False when the externalRefID existed."""
        return self._send(_calls.create_order(order))

    def list_orders(
        self,
        filters: OrderFilters | None = None,
        *,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> AsyncOrderList:
        return self._send(_calls.list_orders(filters, max_results, next_cursor))

    def iter_orders(
        self, filters: OrderFilters | None = None, *, page_size: int | None = None
    ) -> Iterator[AsyncOrderSummary]:
        """Every order matching `filters`, page after page."""
        first = _calls.list_orders(filters, page_size, None)
        for page in _pages.walk(self._send, first):
            yield from page.orders

    def get_order(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> AsyncOrderDetail:
        """The order's summary and one page of line items; `.etag` for If-Match."""
        return self._send(
            _calls.get_order(
                customer, account, external_ref_id, filters, max_results, next_cursor
            )
        )

    def iter_order_line_items(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        page_size: int | None = None,
    ) -> Iterator[AsyncLineItem]:
        first = _calls.get_order(
            customer, account, external_ref_id, filters, page_size, None
        )
        for page in _pages.walk(self._send, first):
            yield from page.lineItems

    def patch_order(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        changes: Patch,
        *,
        if_match: str | None = None,
    ) -> AsyncOrderUpdate:
        """Correct campaign, purchaseOrderNumber or notes (None clears a field).

        With `if_match`, a retry after a lost answer can meet 412 for your own
        change: read the order again to tell whether it holds your values.
        """
        return self._send(
            _calls.patch_order(customer, account, external_ref_id, changes, if_match)
        )

    def get_line_items(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> AsyncOrderLineItems:
        """One page of line items with their reward credentials."""
        return self._send(
            _calls.line_items(
                customer, account, external_ref_id, filters, max_results, next_cursor
            )
        )

    def iter_line_items(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        page_size: int | None = None,
    ) -> Iterator[AsyncLineItemVerbose]:
        first = _calls.line_items(
            customer, account, external_ref_id, filters, page_size, None
        )
        for page in _pages.walk(self._send, first):
            yield from page.lineItems

    def get_history(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> OrderHistory:
        """One page of the order's audit trail (asyncorders extension)."""
        return self._send(
            _calls.history(customer, account, external_ref_id, max_results, next_cursor)
        )

    def iter_history(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        page_size: int | None = None,
    ) -> Iterator[OrderEvent]:
        first = _calls.history(customer, account, external_ref_id, page_size, None)
        for page in _pages.walk(self._send, first):
            yield from page.events

    # ---- customers, accounts, catalog -------------------------------------------

    def create_customer(self, customer_identifier: str, display_name: str) -> Customer:
        return self._send(_calls.create_customer(customer_identifier, display_name))

    def get_customer(self, customer_identifier: str) -> Customer:
        return self._send(_calls.get_customer(customer_identifier))

    def list_customers(self) -> list[Customer]:
        return self._send(_calls.list_customers())

    def create_account(
        self,
        customer_identifier: str,
        account_identifier: str,
        *,
        display_name: str,
        contact_email: str,
        currency_code: str = "USD",
    ) -> Account:
        return self._send(
            _calls.create_account(
                customer_identifier,
                account_identifier,
                display_name,
                contact_email,
                currency_code,
            )
        )

    def get_account(self, account_identifier: str) -> Account:
        return self._send(_calls.get_account(account_identifier))

    def list_accounts(self, customer_identifier: str) -> list[Account]:
        return self._send(_calls.list_accounts(customer_identifier))

    def get_catalog(
        self,
        *,
        brand_key: str | None = None,
        utid: str | None = None,
        currency_code: str | None = None,
        status: str | None = None,
    ) -> Catalog:
        return self._send(_calls.catalog(brand_key, utid, currency_code, status))


class AsyncClient:
    """The `Client` for asyncio: the same methods, awaited; iterators are async."""

    def __init__(
        self,
        base_url: str = LOCAL_URL,
        *,
        auth: Auth | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float | httpx.Timeout = 30.0,
        headers: Mapping[str, str] | None = None,
        limits: httpx.Limits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._http = httpx.AsyncClient(
            **_options(base_url, auth, timeout, headers),
            limits=limits or httpx.Limits(),
            transport=transport,
        )
        self._retrying = _Retrying(retry, rand)
        self._sleep = sleep

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: Call[T]) -> T:
        """Send one call, retrying as the policy allows."""
        attempt = 1
        while True:
            request = build_request(self._http, call)
            try:
                with translated(request):
                    response = await self._http.send(request)
                return call.read(response)
            except (ApiError, TransportError) as error:
                wait = self._retrying.wait(call, request, attempt, error)
                if wait is None:
                    raise
            await self._sleep(wait)
            attempt += 1

    # ---- async orders -----------------------------------------------------------

    async def create_order(self, order: NewOrder) -> AsyncOrderEntity:
        """Submit an order; `.created` is False when the externalRefID existed."""
        return await self._send(_calls.create_order(order))

    async def list_orders(
        self,
        filters: OrderFilters | None = None,
        *,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> AsyncOrderList:
        return await self._send(_calls.list_orders(filters, max_results, next_cursor))

    async def iter_orders(
        self, filters: OrderFilters | None = None, *, page_size: int | None = None
    ) -> AsyncIterator[AsyncOrderSummary]:
        """Every order matching `filters`, page after page."""
        first = _calls.list_orders(filters, page_size, None)
        async for page in _pages.awalk(self._send, first):
            for order in page.orders:
                yield order

    async def get_order(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> AsyncOrderDetail:
        """The order's summary and one page of line items; `.etag` for If-Match."""
        return await self._send(
            _calls.get_order(
                customer, account, external_ref_id, filters, max_results, next_cursor
            )
        )

    async def iter_order_line_items(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[AsyncLineItem]:
        first = _calls.get_order(
            customer, account, external_ref_id, filters, page_size, None
        )
        async for page in _pages.awalk(self._send, first):
            for line in page.lineItems:
                yield line

    async def patch_order(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        changes: Patch,
        *,
        if_match: str | None = None,
    ) -> AsyncOrderUpdate:
        """Correct campaign, purchaseOrderNumber or notes (None clears a field).

        With `if_match`, a retry after a lost answer can meet 412 for your own
        change: read the order again to tell whether it holds your values.
        """
        return await self._send(
            _calls.patch_order(customer, account, external_ref_id, changes, if_match)
        )

    async def get_line_items(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> AsyncOrderLineItems:
        """One page of line items with their reward credentials."""
        return await self._send(
            _calls.line_items(
                customer, account, external_ref_id, filters, max_results, next_cursor
            )
        )

    async def iter_line_items(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        filters: LineItemFilters | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[AsyncLineItemVerbose]:
        first = _calls.line_items(
            customer, account, external_ref_id, filters, page_size, None
        )
        async for page in _pages.awalk(self._send, first):
            for line in page.lineItems:
                yield line

    async def get_history(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        max_results: int | None = None,
        next_cursor: str | None = None,
    ) -> OrderHistory:
        """One page of the order's audit trail (asyncorders extension)."""
        return await self._send(
            _calls.history(customer, account, external_ref_id, max_results, next_cursor)
        )

    async def iter_history(
        self,
        customer: str,
        account: str,
        external_ref_id: str,
        *,
        page_size: int | None = None,
    ) -> AsyncIterator[OrderEvent]:
        first = _calls.history(customer, account, external_ref_id, page_size, None)
        async for page in _pages.awalk(self._send, first):
            for event in page.events:
                yield event

    # ---- customers, accounts, catalog -------------------------------------------

    async def create_customer(
        self, customer_identifier: str, display_name: str
    ) -> Customer:
        return await self._send(
            _calls.create_customer(customer_identifier, display_name)
        )

    async def get_customer(self, customer_identifier: str) -> Customer:
        return await self._send(_calls.get_customer(customer_identifier))

    async def list_customers(self) -> list[Customer]:
        return await self._send(_calls.list_customers())

    async def create_account(
        self,
        customer_identifier: str,
        account_identifier: str,
        *,
        display_name: str,
        contact_email: str,
        currency_code: str = "USD",
    ) -> Account:
        return await self._send(
            _calls.create_account(
                customer_identifier,
                account_identifier,
                display_name,
                contact_email,
                currency_code,
            )
        )

    async def get_account(self, account_identifier: str) -> Account:
        return await self._send(_calls.get_account(account_identifier))

    async def list_accounts(self, customer_identifier: str) -> list[Account]:
        return await self._send(_calls.list_accounts(customer_identifier))

    async def get_catalog(
        self,
        *,
        brand_key: str | None = None,
        utid: str | None = None,
        currency_code: str | None = None,
        status: str | None = None,
    ) -> Catalog:
        return await self._send(_calls.catalog(brand_key, utid, currency_code, status))
