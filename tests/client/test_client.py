"""The client against a real `asyncorders serve` on loopback: every endpoint,
every page, every error as its own exception with the envelope intact."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from asyncorders.client import (
    ApiError,
    AsyncClient,
    AuthenticationFailed,
    Client,
    Conflict,
    ConnectError,
    Credential,
    InsufficientFunds,
    LineItemFilters,
    NewAsyncOrder,
    NotFound,
    OrderFilters,
    OrderPatch,
    PayloadTooLarge,
    PreconditionFailed,
    RateLimited,
    RetryPolicy,
    Reward,
    ServerError,
    Unavailable,
    UnsupportedMediaType,
    ValidationError,
)
from asyncorders.client._models import Customer
from asyncorders.client._protocol import Call, encode, one
from tests.factories import Tenant, line, order_body
from tests.servers import free_port

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def client(live_url: str, tenant: Tenant) -> Iterator[Client]:
    with Client(live_url, auth=(tenant.platform, tenant.key), retry=NO_RETRY) as c:
        yield c


def lines(count: int) -> list[dict[str, Any]]:
    return [line(f"line-{n}") for n in range(count)]


# ---- every endpoint ------------------------------------------------------------


async def test_customers_and_accounts_are_created_read_and_listed(
    client: Client, tenant: Tenant
) -> None:
    customer = client.create_customer("globex-hq", "Globex HQ")
    account = client.create_account(
        "globex-hq",
        "globex-main",
        display_name="Globex main",
        contact_email="ops@globex.example",
        currency_code="EUR",
    )

    assert customer.customerIdentifier == "globex-hq"
    assert customer.response is not None
    assert customer.response.status_code == 201
    assert account.currentBalance == Decimal("0")
    assert account.currencyCode == "EUR"
    got = client.get_customer("globex-hq")
    assert [a.accountIdentifier for a in got.accounts] == ["globex-main"]
    assert client.get_account("globex-main").customerIdentifier == "globex-hq"
    assert {c.customerIdentifier for c in client.list_customers()} == {
        tenant.customer,
        "globex-hq",
    }
    listed = client.list_accounts(tenant.customer)
    assert [a.accountIdentifier for a in listed] == [tenant.account]
    assert listed[0].currentBalance == Decimal("10000.00")


async def test_catalog_lists_brands_with_items_and_filters_by_utid(
    client: Client,
) -> None:
    catalog = client.get_catalog()
    one_item = client.get_catalog(utid="U000002")

    assert catalog.brands
    assert all(brand.items for brand in catalog.brands)
    utids = {item.utid for brand in catalog.brands for item in brand.items}
    assert "U000002" in utids
    assert [i.utid for b in one_item.brands for i in b.items] == ["U000002"]


async def test_create_answers_202_then_200_with_the_original_order(
    client: Client, tenant: Tenant
) -> None:
    body = order_body(tenant, "batch-1", campaign="spring", lineItems=lines(2))

    first = client.create_order(body)
    again = client.create_order(body)

    assert first.created
    assert first.response
    assert first.response.status_code == 202
    assert not again.created
    assert again.response
    assert again.response.status_code == 200
    assert again.referenceOrderID == first.referenceOrderID
    assert first.totalLineItems == 2
    assert first.failedLineItems == []
    account = client.get_account(tenant.account)
    assert account.currentBalance == Decimal("9950.00"), "charged once"


async def test_a_typed_new_order_is_sent_with_exact_money(
    client: Client, tenant: Tenant
) -> None:
    order = NewAsyncOrder.model_validate(
        order_body(tenant, "typed-1", lineItems=[line(amount=Decimal("12.35"))])
    )
    order = order.model_copy(
        update={
            "lineItems": [order.lineItems[0].model_copy(update={"utid": "U000003"})]
        }
    )

    client.create_order(order)
    detail = client.get_order(tenant.customer, tenant.account, "typed-1")

    assert detail.lineItems[0].amount == Decimal("12.35")
    assert detail.amountCharged is not None
    assert detail.amountCharged.total == Decimal("12.35")


async def test_get_patch_line_items_and_history_of_one_order(
    client: Client, tenant: Tenant
) -> None:
    client.create_order(order_body(tenant, "batch-2", campaign="spring", notes="n1"))
    path = (tenant.customer, tenant.account, "batch-2")

    detail = client.get_order(*path)
    updated = client.patch_order(
        *path,
        OrderPatch(campaign="autumn", notes=None, purchaseOrderNumber="PO-9"),
        if_match=detail.etag,
    )
    after = client.get_order(*path)
    with_credentials = client.get_line_items(*path)
    history = client.get_history(*path)

    assert detail.campaign == "spring"
    assert detail.etag
    assert updated.campaign == "autumn"
    assert updated.notes is None
    assert updated.purchaseOrderNumber == "PO-9"
    assert updated.etag != detail.etag == detail.response.etag  # type: ignore[union-attr]
    assert (after.campaign, after.notes, after.etag) == ("autumn", None, updated.etag)
    assert with_credentials.orderNotes is None
    assert with_credentials.campaign == "autumn"
    assert [li.externalRefLineItemID for li in with_credentials.lineItems] == ["line-1"]
    newest = history.events[0]
    assert newest.type == "METADATA_UPDATED"
    assert newest.requestId == updated.request_id
    assert {(c.field, c.oldValue, c.newValue) for c in newest.changes} == {
        ("campaign", "spring", "autumn"),
        ("notes", "n1", None),
        ("purchaseOrderNumber", None, "PO-9"),
    }


async def test_unknown_fields_of_an_answer_are_kept(
    client: Client, tenant: Tenant
) -> None:
    client.create_order(order_body(tenant, "batch-3"))

    detail = client.get_order(tenant.customer, tenant.account, "batch-3")

    # `utid` in the line-item summary is an asyncorders extension the model
    # does not declare: it is kept, not dropped.
    summary_line = detail.lineItems[0]
    assert summary_line.model_extra is not None
    assert summary_line.model_extra["utid"] == "U000002"
    assert summary_line.utid == "U000002"  # type: ignore[attr-defined]


async def test_list_filters_by_campaign_and_account(
    client: Client, tenant: Tenant
) -> None:
    client.create_order(order_body(tenant, "a-1", campaign="spring"))
    client.create_order(order_body(tenant, "a-2", campaign="autumn"))

    spring = client.list_orders(OrderFilters(campaign="spring"))
    mine = client.list_orders(OrderFilters(account_identifier=tenant.account))
    none = client.list_orders(OrderFilters(purchase_order_number="nope"))

    assert [o.externalRefID for o in spring.orders] == ["a-1"]
    assert {o.externalRefID for o in mine.orders} == {"a-1", "a-2"}
    assert none.orders == []
    assert not none.nextPageAvailable


# ---- pages ---------------------------------------------------------------------


async def test_iterators_walk_every_page_to_the_end(
    client: Client, tenant: Tenant
) -> None:
    for n in range(7):
        client.create_order(order_body(tenant, f"page-{n}"))
    client.create_order(order_body(tenant, "wide", lineItems=lines(5)))
    path = (tenant.customer, tenant.account, "wide")
    for n in range(4):
        client.patch_order(*path, {"notes": f"v{n}"})

    orders = [o.externalRefID for o in client.iter_orders(page_size=3)]
    summary_lines = list(client.iter_order_line_items(*path, page_size=2))
    verbose_lines = list(client.iter_line_items(*path, page_size=2))
    events = list(client.iter_history(*path, page_size=2))

    assert sorted(orders) == sorted([f"page-{n}" for n in range(7)] + ["wide"])
    assert len(orders) == len(set(orders)) == 8
    assert [li.externalRefLineItemID for li in summary_lines] == [
        f"line-{n}" for n in range(5)
    ]
    assert [li.externalRefLineItemID for li in verbose_lines] == [
        f"line-{n}" for n in range(5)
    ]
    assert [e.type for e in events] == ["METADATA_UPDATED"] * 4 + ["ORDER_CREATED"]


async def test_line_item_filters_reach_the_server(
    client: Client, tenant: Tenant
) -> None:
    client.create_order(order_body(tenant, "f-1", lineItems=lines(3)))
    path = (tenant.customer, tenant.account, "f-1")

    picked = client.get_order(
        *path, filters=LineItemFilters(external_ref_line_item_ids=["line-0", "line-2"])
    )
    failed = client.get_line_items(*path, filters=LineItemFilters(failed_only=True))

    assert [li.externalRefLineItemID for li in picked.lineItems] == ["line-0", "line-2"]
    assert failed.lineItems == []


# ---- errors --------------------------------------------------------------------

Provoke = Callable[[Client, Tenant], object]


def _bad_patch(c: Client, t: Tenant) -> object:
    c.create_order(order_body(t, "e-1"))
    return c.patch_order(t.customer, t.account, "e-1", {"notes": "x" * 151})


def _not_updatable(c: Client, t: Tenant) -> object:
    c.create_order(order_body(t, "e-5"))
    return c.patch_order(t.customer, t.account, "e-5", {"amount": "1"})


def _stale_etag(c: Client, t: Tenant) -> object:
    c.create_order(order_body(t, "e-2"))
    return c.patch_order(
        t.customer, t.account, "e-2", {"notes": "x"}, if_match='"stale.1"'
    )


def _too_large(c: Client, t: Tenant) -> object:
    return c.create_order(order_body(t, "e-3", notes="x" * (9 * 1024 * 1024)))


def _not_json(c: Client, t: Tenant) -> object:
    call = Call(
        "POST",
        "/customers",
        one(Customer),
        body=b"customerIdentifier=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return c._send(call)


def _simulated(value: str) -> Provoke:
    def provoke(c: Client, t: Tenant) -> object:
        call = Call("GET", "/customers", one(Customer), headers={"X-Simulate": value})
        return c._send(call)

    return provoke


def _poor_order(c: Client, t: Tenant) -> object:
    return c.create_order(
        order_body(t, "e-4", lineItems=[line(f"l-{n}", amount=1000) for n in range(11)])
    )


ERRORS: list[tuple[str, Provoke, type[ApiError], int, str]] = [
    ("bad field", _bad_patch, ValidationError, 400, "400.002"),
    ("unknown member", _not_updatable, ValidationError, 400, "400.003"),
    ("funds", _poor_order, InsufficientFunds, 402, "402.001"),
    (
        "order",
        lambda c, t: c.get_order(t.customer, t.account, "nope"),
        NotFound,
        404,
        "404.001",
    ),
    ("customer", lambda c, t: c.get_customer("nobody-here"), NotFound, 404, "404.002"),
    (
        "duplicate",
        lambda c, t: c.create_customer(t.customer, "Again HQ"),
        Conflict,
        409,
        "409.001",
    ),
    ("stale etag", _stale_etag, PreconditionFailed, 412, "412.001"),
    ("too large", _too_large, PayloadTooLarge, 413, "413.001"),
    ("media type", _not_json, UnsupportedMediaType, 415, "415.001"),
    ("rate limit", _simulated("rate-limit"), RateLimited, 429, "429.001"),
    ("unavailable", _simulated("unavailable"), Unavailable, 503, "503.002"),
    ("server error", _simulated("server-error"), ServerError, 500, "500.001"),
]


@pytest.mark.parametrize(
    ("provoke", "kind", "status", "key"),
    [pytest.param(*row[1:], id=row[0]) for row in ERRORS],
)
async def test_every_error_answer_raises_its_exception_with_the_envelope(
    client: Client,
    tenant: Tenant,
    provoke: Provoke,
    kind: type[ApiError],
    status: int,
    key: str,
) -> None:
    with pytest.raises(kind) as raised:
        provoke(client, tenant)

    error = raised.value
    assert type(error) is kind
    assert (error.status_code, error.http_code, error.i18n_key) == (status, status, key)
    assert error.request_id == error.headers["X-REQUEST-ID"]
    envelope = error.envelope
    assert envelope.path is not None
    assert envelope.path.startswith("/raas/v2/")
    assert envelope.httpPhrase
    assert envelope.timestamp
    assert envelope.message
    if status == 400:
        assert error.errors
        assert error.errors[0].path in {"notes", "amount"}
        assert error.errors[0].i18nKey == key
    if status in (429, 503):
        assert error.retry_after == 1.0
    assert key in str(error)
    assert str(error.request_id) in str(error)


async def test_wrong_key_raises_authentication_failed(
    live_url: str, tenant: Tenant
) -> None:
    client = Client(live_url, auth=(tenant.platform, "not-the-key"))
    with client, pytest.raises(AuthenticationFailed) as raised:
        client.list_customers()

    assert raised.value.status_code == 401
    assert raised.value.i18n_key == "401.001"
    assert raised.value.headers["WWW-Authenticate"].startswith("Basic")
    assert "not-the-key" not in str(raised.value)


async def test_a_port_nobody_listens_on_raises_connect_error_after_the_retries(
    tenant: Tenant,
) -> None:
    waits: list[float] = []
    url = f"http://127.0.0.1:{free_port()}/raas/v2"
    c = Client(url, auth=("acme", "k"), sleep=waits.append, rand=lambda: 0.0)
    with c, pytest.raises(ConnectError) as raised:
        c.create_customer("nobody-hq", "Nobody HQ")

    assert not raised.value.sent
    assert waits == [0.5, 1.0, 2.0], "not sent, so even a create is retried"


# ---- async ---------------------------------------------------------------------


def test_the_async_client_has_the_same_methods() -> None:
    def public(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and name not in {"close", "aclose"}
        }

    assert public(Client) == public(AsyncClient)


async def test_async_client_reaches_every_endpoint(
    live_url: str, tenant: Tenant
) -> None:
    auth = (tenant.platform, tenant.key)
    async with AsyncClient(live_url, auth=auth, retry=NO_RETRY) as client:
        await client.create_customer("initech-hq", "Initech HQ")
        await client.create_account(
            "initech-hq",
            "initech-main",
            display_name="Initech main",
            contact_email="ops@initech.example",
        )
        customers = await client.list_customers()
        customer = await client.get_customer("initech-hq")
        accounts = await client.list_accounts("initech-hq")
        account = await client.get_account("initech-main")
        catalog = await client.get_catalog(utid="U000002")
        created = await client.create_order(
            order_body(tenant, "x-1", lineItems=lines(3))
        )
        path = (tenant.customer, tenant.account, "x-1")
        detail = await client.get_order(*path)
        patched = await client.patch_order(
            *path, OrderPatch(campaign="c"), if_match=detail.etag
        )
        page = await client.list_orders(OrderFilters(campaign="c"))
        verbose = await client.get_line_items(*path, max_results=2)
        history = await client.get_history(*path)
        orders = [o async for o in client.iter_orders(page_size=1)]
        summary = [li async for li in client.iter_order_line_items(*path, page_size=2)]
        credentials = [li async for li in client.iter_line_items(*path, page_size=2)]
        events = [e async for e in client.iter_history(*path, page_size=1)]
        with pytest.raises(NotFound) as missing:
            await client.get_order(tenant.customer, tenant.account, "nope")

    assert {c.customerIdentifier for c in customers} >= {"initech-hq"}
    assert customer.accounts[0].accountIdentifier == "initech-main"
    assert [a.accountIdentifier for a in accounts] == ["initech-main"]
    assert account.currentBalance == Decimal("0")
    assert catalog.brands[0].items[0].utid == "U000002"
    assert created.created
    assert patched.campaign == "c"
    assert [o.externalRefID for o in page.orders] == ["x-1"]
    assert len(verbose.lineItems) == 2
    assert verbose.pagination.nextPageAvailable
    assert history.events[0].type == "METADATA_UPDATED"
    assert [o.externalRefID for o in orders] == ["x-1"]
    assert len(summary) == len(credentials) == 3
    assert [e.type for e in events] == ["METADATA_UPDATED", "ORDER_CREATED"]
    assert missing.value.i18n_key == "404.001"


async def test_the_key_is_never_in_a_repr(live_url: str, tenant: Tenant) -> None:
    with Client(live_url, auth=(tenant.platform, tenant.key)) as client:
        shown = repr(client) + repr(client.__dict__)
    assert tenant.key not in shown


def test_money_is_sent_as_an_exact_json_number() -> None:
    assert (
        encode({"a": Decimal("12.35"), "b": Decimal("25.00")}) == b'{"a":12.35,"b":25}'
    )


def test_an_http_status_without_envelope_keeps_the_text() -> None:
    from asyncorders.client._errors import error_from_response

    error = error_from_response(
        httpx.Response(
            502, text="<html>Bad gateway</html>", headers={"X-REQUEST-ID": "r1"}
        )
    )
    assert isinstance(error, ServerError)
    assert error.envelope.httpCode == 502
    assert error.request_id == "r1"
    assert error.message == "<html>Bad gateway</html>"


def test_a_credential_value_is_kept_but_never_shown_in_a_repr() -> None:
    credential = Credential(label="PIN", value="4921", type="text")

    assert credential.value == "4921"
    assert "4921" not in repr(credential)
    assert "4921" not in str(Reward(credentialList=[credential]))
