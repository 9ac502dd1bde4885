"""Reading async orders: the summary, the line items, the list, their cursor pages and
filters, and tenancy (contract sections 2 to 4, reference notes A2, A3 and A5)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from asyncorders.accounts import service as accounts
from asyncorders.platforms import repository as platform_repository
from tests.conftest import Api
from tests.factories import Tenant, create_order, line, make_tenant

pytestmark = pytest.mark.anyio

ORDERS = "/asyncOrders"

DETAIL_FIELDS = {
    "referenceOrderID",
    "externalRefID",
    "orderStatus",
    "createdAt",
    "completedAt",
    "customerIdentifier",
    "accountIdentifier",
    "sender",
    "amountCharged",
    "campaign",
    "purchaseOrderNumber",
    "notes",
    "totalLineItems",
    "pagination",
    "orderErrors",
    "lineItems",
}
PAGINATION_FIELDS = {
    "prevCursor",
    "nextCursor",
    "prevPageAvailable",
    "nextPageAvailable",
    "maxResults",
    "numberOfElements",
}
LINE_ITEMS_VIEW_FIELDS = {
    "referenceOrderID",
    "externalRefID",
    "accountIdentifier",
    "customerIdentifier",
    "sender",
    "amountCharged",
    "purchaseOrderNumber",
    "campaign",
    "orderNotes",
    "orderStatus",
    "orderErrors",
    "pagination",
    "lineItems",
}
VERBOSE_REQUIRED = {
    "amountIssued",
    "dateIssued",
    "deliveryStatus",
    "etid",
    "expirationDate",
    "lineItemStatus",
    "referenceLineItemID",
    "rewardName",
    "rewards",
    "utid",
}
CREDENTIAL_WORDS = ("rewards", "credential", "cardNumber", "pin", "claimCode")


# ---- helpers --------------------------------------------------------------------


async def get(api: Api, tenant: Tenant, url: str, params: Any = None) -> httpx.Response:
    return await api.http.get(url, params=params, auth=tenant.auth)


async def get_ok(
    api: Api, tenant: Tenant, url: str, params: Any = None
) -> dict[str, Any]:
    response = await get(api, tenant, url, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_bad_request(response: httpx.Response, path: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["httpCode"] == 400
    assert body["i18nKey"].startswith("400.")
    assert body["requestId"] == response.headers["X-REQUEST-ID"]
    if path is not None:
        assert [item["path"] for item in body["errors"]] == [path]


async def fund(api: Api, tenant: Tenant, amount: Decimal) -> None:
    async with api.runtime.database.sessions() as session:
        platform = await platform_repository.get_by_name(session, tenant.platform)
        assert platform is not None
        await accounts.fund(session, platform.id, tenant.account, amount)
        await session.commit()


def line_refs(body: dict[str, Any]) -> list[str]:
    return [item["externalRefLineItemID"] for item in body["lineItems"]]


def order_refs(body: dict[str, Any]) -> list[str]:
    return [order["externalRefID"] for order in body["orders"]]


async def big_order(
    api: Api, tenant: Tenant, ref: str = "big", count: int = 23
) -> list[str]:
    refs = [f"li-{i:03d}" for i in range(count)]
    await create_order(
        api.http, tenant, ref, lineItems=[line(r, amount=1) for r in refs]
    )
    return refs


async def walk_forward(
    api: Api, tenant: Tenant, url: str, params: dict[str, str]
) -> list[dict[str, Any]]:
    """Every page from the first to the last, following nextCursor."""
    pages = [await get_ok(api, tenant, url, params)]
    while pages[-1]["pagination"]["nextPageAvailable"]:
        cursor = pages[-1]["pagination"]["nextCursor"]
        assert cursor
        pages.append(await get_ok(api, tenant, url, {**params, "nextCursor": cursor}))
        assert len(pages) < 100, "pagination does not end"
    return pages


async def list_all(
    api: Api, tenant: Tenant, params: dict[str, str] | None = None
) -> list[str]:
    """externalRefIDs of every listed order, all cursor pages followed."""
    params = {"maxResults": "200", **(params or {})}
    body = await get_ok(api, tenant, ORDERS, params)
    refs = order_refs(body)
    while body["nextPageAvailable"]:
        body = await get_ok(
            api, tenant, ORDERS, {**params, "nextCursor": body["nextCursor"]}
        )
        refs += order_refs(body)
        assert len(refs) < 10_000
    return refs


# ---- the summary (A3) -----------------------------------------------------------


async def test_summary_has_every_detail_field_and_no_credentials(
    api: Api, tenant: Tenant
) -> None:
    created = await create_order(
        api.http,
        tenant,
        "order-1",
        campaign="spring",
        purchaseOrderNumber="PO-1",
        notes="first",
        sender={"firstName": "Grace", "email": "grace@example.com"},
        lineItems=[line("a", amount=10), line("b", amount=5, quantity=2)],
    )

    response = await get(api, tenant, tenant.order_url("order-1"))

    assert response.status_code == 200, response.text
    assert response.headers.get("ETag")
    body = response.json()
    assert set(body) >= DETAIL_FIELDS
    assert body["referenceOrderID"] == created["referenceOrderID"]
    assert body["externalRefID"] == "order-1"
    assert body["orderStatus"] == "PENDING"
    assert body["customerIdentifier"] == tenant.customer
    assert body["accountIdentifier"] == tenant.account
    assert body["campaign"] == "spring"
    assert body["purchaseOrderNumber"] == "PO-1"
    assert body["notes"] == "first"
    assert body["sender"]["firstName"] == "Grace"
    assert body["totalLineItems"] == 2
    assert body["orderErrors"] == []
    assert body["amountCharged"]["currencyCode"] == "USD"
    assert body["amountCharged"]["total"] == 20
    assert set(body["pagination"]) >= PAGINATION_FIELDS
    assert body["pagination"]["numberOfElements"] == 2
    assert body["pagination"]["maxResults"] == 100
    assert body["pagination"]["nextPageAvailable"] is False
    assert body["pagination"]["prevPageAvailable"] is False
    assert line_refs(body) == ["a", "b"]
    for item in body["lineItems"]:
        assert item["referenceLineItemId"]
        assert "referenceLineItemID" not in item
        for word in CREDENTIAL_WORDS:
            assert word not in item
        assert item["lineItemStatus"] == "PENDING"
    assert "credential" not in response.text.lower()


async def test_summary_of_unknown_order_is_404_001(api: Api, tenant: Tenant) -> None:
    response = await get(api, tenant, tenant.order_url("nope"))

    assert response.status_code == 404, response.text
    assert response.json()["i18nKey"] == "404.001"


async def test_summary_needs_the_right_customer_and_account_in_the_path(
    api: Api, tenant: Tenant
) -> None:
    await create_order(api.http, tenant, "order-1")
    wrong_customer = (
        f"/asyncOrders/customers/someone-else/accounts/{tenant.account}/order-1"
    )
    wrong_account = (
        f"/asyncOrders/customers/{tenant.customer}/accounts/other-account/order-1"
    )

    for url in (wrong_customer, wrong_account):
        response = await get(api, tenant, url)
        assert response.status_code == 404, response.text


# ---- the line items (A5) --------------------------------------------------------


async def test_line_items_view_has_tango_names_and_required_fields(
    api: Api, tenant: Tenant
) -> None:
    await create_order(
        api.http,
        tenant,
        "order-1",
        notes="for ops",
        lineItems=[line("a", amount=10), line("bad", utid="U123456")],
    )

    response = await get(api, tenant, tenant.order_url("order-1") + "/lineItems")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= LINE_ITEMS_VIEW_FIELDS
    assert body["orderNotes"] == "for ops"
    assert "notes" not in body
    assert set(body["pagination"]) >= PAGINATION_FIELDS
    assert body["pagination"]["maxResults"] == 50
    assert line_refs(body) == ["a", "bad"]
    for item in body["lineItems"]:
        assert set(item) >= VERBOSE_REQUIRED
        assert "referenceLineItemId" not in item
        assert item["referenceLineItemID"]
        assert isinstance(item["rewards"], list)
        assert item["etid"] == "E000000"
    good, bad = body["lineItems"]
    assert good["lineItemStatus"] == "PENDING"
    assert bad["lineItemStatus"] == "FAILED"
    assert [e["errorCode"] for e in bad["lineItemErrors"]] == ["INVALID_UTID"]


async def test_line_item_ids_agree_between_summary_and_line_items_view(
    api: Api, tenant: Tenant
) -> None:
    await create_order(
        api.http, tenant, "order-1", lineItems=[line("a"), line("b"), line("c")]
    )

    summary = await get_ok(api, tenant, tenant.order_url("order-1"))
    verbose = await get_ok(api, tenant, tenant.order_url("order-1") + "/lineItems")

    assert [i["referenceLineItemId"] for i in summary["lineItems"]] == [
        i["referenceLineItemID"] for i in verbose["lineItems"]
    ]
    assert len({i["referenceLineItemId"] for i in summary["lineItems"]}) == 3


# ---- line-item pagination -------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_line_item_pages_walk_forward_and_back_over_every_line_once(
    api: Api, tenant: Tenant, suffix: str
) -> None:
    refs = await big_order(api, tenant)
    url = tenant.order_url("big") + suffix

    pages = await walk_forward(api, tenant, url, {"maxResults": "5"})

    assert [len(page["lineItems"]) for page in pages] == [5, 5, 5, 5, 3]
    assert [r for page in pages for r in line_refs(page)] == refs
    first, last = pages[0]["pagination"], pages[-1]["pagination"]
    assert first["prevPageAvailable"] is False
    assert first["prevCursor"] is None
    assert last["nextPageAvailable"] is False
    assert last["nextCursor"] is None
    assert [p["pagination"]["numberOfElements"] for p in pages] == [5, 5, 5, 5, 3]
    assert all(p["pagination"]["maxResults"] == 5 for p in pages)

    back = [pages[-1]]
    while back[-1]["pagination"]["prevPageAvailable"]:
        cursor = back[-1]["pagination"]["prevCursor"]
        assert cursor
        back.append(
            await get_ok(api, tenant, url, {"maxResults": "5", "prevCursor": cursor})
        )
        assert len(back) < 100
    assert [line_refs(page) for page in reversed(back)] == [
        line_refs(page) for page in pages
    ]
    assert back[-1]["pagination"]["nextPageAvailable"] is True


async def test_prev_cursor_from_a_middle_page_gives_the_page_before(
    api: Api, tenant: Tenant
) -> None:
    refs = await big_order(api, tenant)
    url = tenant.order_url("big") + "/lineItems"
    pages = await walk_forward(api, tenant, url, {"maxResults": "5"})

    before = await get_ok(
        api,
        tenant,
        url,
        {"maxResults": "5", "prevCursor": pages[2]["pagination"]["prevCursor"]},
    )

    assert line_refs(before) == refs[5:10]
    assert before["pagination"]["prevPageAvailable"] is True
    assert before["pagination"]["nextPageAvailable"] is True


@pytest.mark.parametrize(
    ("suffix", "params"),
    [
        ("", {"maxResults": "501"}),
        ("", {"maxResults": "0"}),
        ("", {"maxResults": "-1"}),
        ("", {"maxResults": "many"}),
        ("/lineItems", {"maxResults": "101"}),
        ("/lineItems", {"maxResults": "0"}),
    ],
    ids=[
        "summary-501",
        "summary-0",
        "summary-neg",
        "summary-nan",
        "items-101",
        "items-0",
    ],
)
async def test_max_results_out_of_bounds_is_400(
    api: Api, tenant: Tenant, suffix: str, params: dict[str, str]
) -> None:
    await create_order(api.http, tenant, "order-1")

    response = await get(api, tenant, tenant.order_url("order-1") + suffix, params)

    assert_bad_request(response, "maxResults")


@pytest.mark.parametrize(
    ("suffix", "params"),
    [("", {"maxResults": "500"}), ("/lineItems", {"maxResults": "100"})],
    ids=["summary-500", "items-100"],
)
async def test_max_results_at_the_limit_is_accepted(
    api: Api, tenant: Tenant, suffix: str, params: dict[str, str]
) -> None:
    await create_order(api.http, tenant, "order-1")

    body = await get_ok(api, tenant, tenant.order_url("order-1") + suffix, params)

    assert body["pagination"]["maxResults"] == int(params["maxResults"])


@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_both_cursors_at_once_is_400(
    api: Api, tenant: Tenant, suffix: str
) -> None:
    await big_order(api, tenant)
    url = tenant.order_url("big") + suffix
    pages = await walk_forward(api, tenant, url, {"maxResults": "5"})
    middle = pages[2]["pagination"]

    response = await get(
        api,
        tenant,
        url,
        {
            "maxResults": "5",
            "nextCursor": middle["nextCursor"],
            "prevCursor": middle["prevCursor"],
        },
    )

    assert_bad_request(response)


@pytest.mark.parametrize(
    "params",
    [
        {"nextCursor": "garbage!!"},
        {"nextCursor": "bm90IGpzb24"},  # base64 of "not json"
        {"prevCursor": "WyJwIiwiYSJd"},  # ["p","a"]: wrong key type
        {"nextCursor": "WyJwIixbNV1d"},  # a prev cursor sent as nextCursor
        {"nextCursor": "x" * 600},
    ],
    ids=["garbage", "not-json", "wrong-type", "wrong-direction", "too-long"],
)
@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_garbage_cursor_is_400(
    api: Api, tenant: Tenant, suffix: str, params: dict[str, str]
) -> None:
    await create_order(api.http, tenant, "order-1")

    response = await get(api, tenant, tenant.order_url("order-1") + suffix, params)

    assert_bad_request(response)


@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_failed_only_returns_only_failed_lines(
    api: Api, tenant: Tenant, suffix: str
) -> None:
    await create_order(
        api.http,
        tenant,
        "order-1",
        lineItems=[
            line("ok-1"),
            line("bad-1", utid="U123456"),
            line("ok-2"),
            line("bad-2", utid="U000005", amount=10),
        ],
    )
    url = tenant.order_url("order-1") + suffix

    failed = await get_ok(api, tenant, url, {"failedOnly": "true"})
    everything = await get_ok(api, tenant, url, {"failedOnly": "false"})

    assert line_refs(failed) == ["bad-1", "bad-2"]
    assert {item["lineItemStatus"] for item in failed["lineItems"]} == {"FAILED"}
    assert line_refs(everything) == ["ok-1", "bad-1", "ok-2", "bad-2"]


async def test_failed_only_pages_cover_only_failed_lines(
    api: Api, tenant: Tenant
) -> None:
    lines = [
        line(f"l{i:02d}", utid="U123456" if i % 3 == 0 else "U000002")
        for i in range(14)
    ]
    await create_order(api.http, tenant, "order-1", lineItems=lines)
    url = tenant.order_url("order-1") + "/lineItems"

    pages = await walk_forward(
        api, tenant, url, {"maxResults": "2", "failedOnly": "true"}
    )

    assert [r for p in pages for r in line_refs(p)] == [
        f"l{i:02d}" for i in range(0, 14, 3)
    ]


@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_external_ref_line_item_ids_filter_takes_repeated_and_comma_forms(
    api: Api, tenant: Tenant, suffix: str
) -> None:
    await big_order(api, tenant, count=8)
    url = tenant.order_url("big") + suffix

    repeated = await get_ok(
        api,
        tenant,
        url,
        [("externalRefLineItemIDs", "li-001"), ("externalRefLineItemIDs", "li-005")],
    )
    comma = await get_ok(
        api, tenant, url, {"externalRefLineItemIDs": "li-005,li-001,unknown"}
    )
    mixed = await get_ok(
        api,
        tenant,
        url,
        [
            ("externalRefLineItemIDs", "li-002,li-003"),
            ("externalRefLineItemIDs", "li-007"),
        ],
    )

    assert line_refs(repeated) == ["li-001", "li-005"]
    assert line_refs(comma) == ["li-001", "li-005"]
    assert line_refs(mixed) == ["li-002", "li-003", "li-007"]


async def test_reference_line_item_ids_filter_selects_those_lines(
    api: Api, tenant: Tenant
) -> None:
    await big_order(api, tenant, count=6)
    url = tenant.order_url("big") + "/lineItems"
    every = await get_ok(api, tenant, url)
    wanted = [every["lineItems"][1], every["lineItems"][4]]

    body = await get_ok(
        api,
        tenant,
        url,
        {"referenceLineItemIDs": ",".join(i["referenceLineItemID"] for i in wanted)},
    )

    assert line_refs(body) == ["li-001", "li-004"]


@pytest.mark.parametrize("name", ["externalRefLineItemIDs", "referenceLineItemIDs"])
@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_more_than_fifty_ids_is_400(
    api: Api, tenant: Tenant, suffix: str, name: str
) -> None:
    await create_order(api.http, tenant, "order-1")
    url = tenant.order_url("order-1") + suffix
    ids = [f"id-{i}" for i in range(51)]

    repeated = await get(api, tenant, url, [(name, i) for i in ids])
    comma = await get(api, tenant, url, {name: ",".join(ids)})
    fifty = await get(api, tenant, url, {name: ",".join(ids[:50])})

    assert_bad_request(repeated, name)
    assert_bad_request(comma, name)
    assert fifty.status_code == 200, fifty.text


# ---- the list (A2) --------------------------------------------------------------


async def test_list_shows_orders_newest_first_with_the_view_fields(
    api: Api, tenant: Tenant
) -> None:
    for ref in ("first", "second", "third"):
        await create_order(api.http, tenant, ref, campaign="c")

    body = await get_ok(api, tenant, ORDERS)

    assert order_refs(body) == ["third", "second", "first"]
    assert {"prevCursor", "nextCursor", "prevPageAvailable", "nextPageAvailable"} <= (
        set(body)
    )
    assert body["maxResults"] == 50
    assert body["nextPageAvailable"] is False
    assert body["prevPageAvailable"] is False
    order = body["orders"][0]
    for field in (
        "createdAt",
        "referenceOrderID",
        "externalRefID",
        "customerIdentifier",
        "accountIdentifier",
        "accountNumber",
        "campaign",
        "orderStatus",
        "totalLineItemsRows",
        "amountCharged",
    ):
        assert field in order, field
    assert order["customerIdentifier"] == tenant.customer
    assert order["accountIdentifier"] == tenant.account
    assert order["totalLineItemsRows"] == 1
    assert order["amountCharged"]["total"] == 25
    assert "lineItems" not in order


async def test_list_cursor_pages_reach_the_end_without_duplicates(
    api: Api, tenant: Tenant
) -> None:
    refs = [f"order-{i:02d}" for i in range(11)]
    for ref in refs:
        await create_order(api.http, tenant, ref)

    seen: list[str] = []
    body = await get_ok(api, tenant, ORDERS, {"maxResults": "3"})
    pages = [body]
    while body["nextPageAvailable"]:
        body = await get_ok(
            api, tenant, ORDERS, {"maxResults": "3", "nextCursor": body["nextCursor"]}
        )
        pages.append(body)
        assert len(pages) < 50
    seen = [r for page in pages for r in order_refs(page)]

    assert seen == list(reversed(refs))
    assert [len(page["orders"]) for page in pages] == [3, 3, 3, 2]
    assert pages[-1]["nextCursor"] is None
    back = await get_ok(
        api, tenant, ORDERS, {"maxResults": "3", "prevCursor": pages[-1]["prevCursor"]}
    )
    assert order_refs(back) == order_refs(pages[-2])


async def test_list_max_results_out_of_bounds_is_400(api: Api, tenant: Tenant) -> None:
    for value in ("0", "201", "x"):
        response = await get(api, tenant, ORDERS, {"maxResults": value})
        assert_bad_request(response, "maxResults")


async def test_list_filters_by_account_and_customer(api: Api, tenant: Tenant) -> None:
    customer = await api.http.post(
        "/customers",
        json={"customerIdentifier": "acme-second", "displayName": "acme second"},
        auth=tenant.auth,
    )
    assert customer.status_code == 201, customer.text
    account = await api.http.post(
        "/customers/acme-second/accounts",
        json={
            "accountIdentifier": "acme-second-acct",
            "displayName": "acme second account",
            "contactEmail": "ops@acme.example",
        },
        auth=tenant.auth,
    )
    assert account.status_code == 201, account.text
    second = Tenant(tenant.platform, tenant.key, "acme-second", "acme-second-acct")
    await fund(api, second, Decimal("100.00"))
    await create_order(api.http, tenant, "main-1")
    await create_order(api.http, second, "second-1")
    await create_order(api.http, tenant, "main-2")

    by_account = await list_all(api, tenant, {"accountIdentifier": tenant.account})
    by_second_account = await list_all(
        api, tenant, {"accountIdentifier": second.account}
    )
    by_customer = await list_all(api, tenant, {"customerIdentifier": tenant.customer})
    by_second_customer = await list_all(
        api, tenant, {"customerIdentifier": second.customer}
    )
    mismatch = await list_all(
        api,
        tenant,
        {"customerIdentifier": tenant.customer, "accountIdentifier": second.account},
    )

    assert by_account == ["main-2", "main-1"]
    assert by_second_account == ["second-1"]
    assert by_customer == ["main-2", "main-1"]
    assert by_second_customer == ["second-1"]
    assert mismatch == []


async def test_list_filters_by_external_ref_id(api: Api, tenant: Tenant) -> None:
    for ref in ("alpha", "beta", "gamma"):
        await create_order(api.http, tenant, ref)

    assert await list_all(api, tenant, {"externalRefID": "beta"}) == ["beta"]
    assert await list_all(api, tenant, {"externalRefID": "delta"}) == []


async def test_list_filters_by_campaign_and_purchase_order_number(
    api: Api, tenant: Tenant
) -> None:
    for ref, campaign, po in [
        ("o1", "spring", "PO-1"),
        ("o2", "summer", "PO-1"),
        ("o3", "spring", "PO-2"),
    ]:
        await create_order(
            api.http, tenant, ref, campaign=campaign, purchaseOrderNumber=po
        )
    await create_order(api.http, tenant, "o4")

    assert await list_all(api, tenant, {"campaign": "spring"}) == ["o3", "o1"]
    assert await list_all(api, tenant, {"purchaseOrderNumber": "PO-1"}) == ["o2", "o1"]
    assert await list_all(
        api, tenant, {"campaign": "spring", "purchaseOrderNumber": "PO-1"}
    ) == ["o1"]
    assert await list_all(api, tenant, {"campaign": "autumn"}) == []


async def test_list_leaves_failed_orders_out_unless_asked_for(
    api: Api, tenant: Tenant
) -> None:
    await create_order(api.http, tenant, "good")
    await create_order(api.http, tenant, "bad", lineItems=[line("a", utid="U123456")])
    await create_order(api.http, tenant, "good-2")

    default = await list_all(api, tenant)
    failed = await list_all(api, tenant, {"orderStatus": "FAILED"})
    pending = await list_all(api, tenant, {"orderStatus": "PENDING"})
    complete = await list_all(api, tenant, {"orderStatus": "COMPLETE"})
    bogus = await get(api, tenant, ORDERS, {"orderStatus": "BOGUS"})

    assert default == ["good-2", "good"]
    assert failed == ["bad"]
    assert pending == ["good-2", "good"]
    assert complete == []
    assert_bad_request(bogus, "orderStatus")
    summary = await get(api, tenant, tenant.order_url("bad"))
    assert summary.status_code == 200
    assert summary.json()["orderStatus"] == "FAILED"


async def test_list_filters_by_date_and_date_time(api: Api, tenant: Tenant) -> None:
    await create_order(api.http, tenant, "early")
    await anyio.sleep(0.05)
    boundary = datetime.now(UTC)
    await anyio.sleep(0.05)
    await create_order(api.http, tenant, "late")
    today = datetime.now(UTC).date()
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    zulu = boundary.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    offset = boundary.astimezone(UTC).isoformat()  # ...+00:00
    eastern = boundary.astimezone(timezone(timedelta(hours=-5))).isoformat()

    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"startDate": today.isoformat()}, ["late", "early"]),
        ({"endDate": today.isoformat()}, ["late", "early"]),
        (
            {"startDate": today.isoformat(), "endDate": today.isoformat()},
            ["late", "early"],
        ),
        ({"startDate": tomorrow.isoformat()}, []),
        ({"endDate": yesterday.isoformat()}, []),
        ({"startDate": zulu}, ["late"]),
        ({"endDate": zulu}, ["early"]),
        ({"startDate": offset}, ["late"]),
        ({"endDate": offset}, ["early"]),
        ({"startDate": eastern}, ["late"]),
        ({"endDate": eastern}, ["early"]),
        ({"startDate": zulu, "endDate": tomorrow.isoformat()}, ["late"]),
    ]
    for params, expected in cases:
        assert await list_all(api, tenant, params) == expected, params


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("startDate", "2016-13-01"),
        ("startDate", "yesterday"),
        ("endDate", "2016-01-01T25:00:00Z"),
        ("endDate", "01/02/2016"),
        ("startDate", "2026-W01"),  # ISO 8601, not RFC 3339
        ("startDate", "20260101"),
        # Valid text, but outside the years 1 to 9999 once in UTC.
        ("endDate", "9999-12-31"),
        ("startDate", "0001-01-01T00:00:00+01:00"),
        ("endDate", "9999-12-31T23:59:59-01:00"),
    ],
)
async def test_list_bad_date_is_400(
    api: Api, tenant: Tenant, name: str, value: str
) -> None:
    response = await get(api, tenant, ORDERS, {name: value})

    assert_bad_request(response, name)


@pytest.mark.parametrize("param", ["nextCursor", "prevCursor"])
async def test_list_garbage_cursor_is_400(api: Api, tenant: Tenant, param: str) -> None:
    await create_order(api.http, tenant, "order-1")

    response = await get(api, tenant, ORDERS, {param: "garbage"})

    assert_bad_request(response, param)


def forged(key: list[Any]) -> str:
    """A cursor of our shape whose key no page of ours ever had."""
    raw = json.dumps(["n", key, "000000000000"]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def refusal(response: httpx.Response) -> str:
    message: str = response.json()["errors"][0]["message"]
    return message


@pytest.mark.parametrize(
    ("suffix", "key"),
    [
        ("", [2**31]),  # beyond a line position
        ("", [10**30]),
        ("/lineItems", [-1]),
        ("/history", [2**63]),  # beyond a 64-bit id
    ],
)
async def test_forged_cursor_out_of_the_keys_range_is_400(
    api: Api, tenant: Tenant, suffix: str, key: list[Any]
) -> None:
    await create_order(api.http, tenant, "order-1")

    response = await get(
        api, tenant, tenant.order_url("order-1") + suffix, {"nextCursor": forged(key)}
    )

    assert_bad_request(response, "nextCursor")
    assert refusal(response) == "This cursor is not valid."


@pytest.mark.parametrize(
    "key",
    [["0001-01-01T00:00:00+14:00", 1], ["2026-01-01T00:00:00Z", 2**63]],
    ids=["moment", "id"],
)
async def test_list_forged_cursor_out_of_range_is_400(
    api: Api, tenant: Tenant, key: list[Any]
) -> None:
    response = await get(api, tenant, ORDERS, {"nextCursor": forged(key)})

    assert_bad_request(response, "nextCursor")
    assert refusal(response) == "This cursor is not valid."


@pytest.mark.parametrize("suffix", ["", "/lineItems"], ids=["summary", "lineItems"])
async def test_a_cursor_of_another_orders_lines_is_400(
    api: Api, tenant: Tenant, suffix: str
) -> None:
    await big_order(api, tenant)
    await create_order(
        api.http, tenant, "other", lineItems=[line(f"l{n}") for n in range(12)]
    )
    url = tenant.order_url("big") + suffix
    first = await get_ok(api, tenant, url, {"maxResults": "5"})
    cursor = first["pagination"]["nextCursor"]

    response = await get(
        api, tenant, tenant.order_url("other") + suffix, {"nextCursor": cursor}
    )
    filtered = await get(api, tenant, url, {"nextCursor": cursor, "failedOnly": "true"})

    assert_bad_request(response, "nextCursor")
    assert refusal(response) == "This cursor belongs to another listing."
    assert_bad_request(filtered, "nextCursor")


async def test_a_history_cursor_is_not_a_line_items_cursor(
    api: Api, tenant: Tenant
) -> None:
    await big_order(api, tenant)
    for n in range(4):
        patched = await api.http.patch(
            tenant.order_url("big"), json={"notes": f"n{n}"}, auth=tenant.auth
        )
        assert patched.status_code == 200, patched.text
    history = await get_ok(
        api, tenant, tenant.order_url("big") + "/history", {"maxResults": "2"}
    )

    response = await get(
        api,
        tenant,
        tenant.order_url("big"),
        {"nextCursor": history["pagination"]["nextCursor"]},
    )

    assert_bad_request(response, "nextCursor")


async def test_a_list_cursor_sent_with_other_filters_is_400(
    api: Api, tenant: Tenant
) -> None:
    for n in range(3):
        await create_order(api.http, tenant, f"o{n}", campaign="spring")
    first = await get_ok(api, tenant, ORDERS, {"maxResults": "1"})
    cursor = first["nextCursor"]

    same = await get(api, tenant, ORDERS, {"maxResults": "1", "nextCursor": cursor})
    other = await get(api, tenant, ORDERS, {"nextCursor": cursor, "campaign": "spring"})

    assert same.status_code == 200, same.text
    assert_bad_request(other, "nextCursor")
    assert refusal(other) == "This cursor belongs to another listing."


async def test_list_never_shows_another_platforms_orders(
    api: Api, tenant: Tenant
) -> None:
    other = await make_tenant(api.runtime, "other")
    await create_order(api.http, tenant, "mine")
    await create_order(api.http, other, "theirs")
    await create_order(api.http, other, "theirs-failed", lineItems=[line(utid="U1")])
    await create_order(api.http, other, "mine")

    assert await list_all(api, tenant) == ["mine"]
    assert await list_all(api, tenant, {"orderStatus": "FAILED"}) == []
    assert await list_all(api, tenant, {"accountIdentifier": other.account}) == []
    assert await list_all(api, tenant, {"customerIdentifier": other.customer}) == []
    assert await list_all(api, tenant, {"externalRefID": "theirs"}) == []
    mine = await get_ok(api, tenant, ORDERS)
    assert {o["accountIdentifier"] for o in mine["orders"]} == {tenant.account}
    assert await list_all(api, other) == ["mine", "theirs"]


# ---- tenancy --------------------------------------------------------------------


@pytest.mark.parametrize(
    "suffix", ["", "/lineItems", "/history"], ids=["summary", "lineItems", "history"]
)
async def test_another_platforms_order_is_404_like_a_missing_one(
    api: Api, tenant: Tenant, suffix: str
) -> None:
    await create_order(api.http, tenant, "order-1")
    other = await make_tenant(api.runtime, "other")

    foreign = await get(api, other, tenant.order_url("order-1") + suffix)
    missing = await get(api, other, tenant.order_url("order-2") + suffix)
    own_missing = await get(api, tenant, tenant.order_url("order-2") + suffix)

    def shape(response: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = response.json()
        assert body["requestId"] == response.headers["X-REQUEST-ID"]
        return {
            k: v for k, v in body.items() if k not in {"timestamp", "requestId", "path"}
        }

    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["i18nKey"] == "404.001"
    assert shape(foreign) == shape(missing) == shape(own_missing)
    assert set(foreign.json()) == set(missing.json())
    assert "ETag" not in foreign.headers
    assert "order-1" not in foreign.text.replace(foreign.json()["path"], "")
    mine = await get(api, tenant, tenant.order_url("order-1") + suffix)
    assert mine.status_code == 200, mine.text
