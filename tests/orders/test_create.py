"""POST /raas/v2/asyncOrders: acceptance, idempotency, funds, per-line failures and
whole-request validation (contract sections 2, 4, 6 and 7)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest

from asyncorders.accounts import service as accounts
from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.catalog import service as catalog
from asyncorders.demo.seed import demo_catalog
from asyncorders.platforms import repository as platform_repository
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant, create_order, line, make_tenant, order_body

pytestmark = pytest.mark.anyio

ORDERS = "/asyncOrders"


# ---- helpers --------------------------------------------------------------------


def decimal_json(response: httpx.Response) -> Any:
    """The body with every JSON number read as an exact Decimal of its text."""
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


async def balance(api: Api, tenant: Tenant) -> Decimal:
    response = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)
    assert response.status_code == 200, response.text
    value = decimal_json(response)["currentBalance"]
    assert isinstance(value, Decimal)
    return value


async def post_raw(api: Api, tenant: Tenant, content: str | bytes) -> httpx.Response:
    return await api.http.post(
        ORDERS,
        content=content,
        headers={"Content-Type": "application/json"},
        auth=tenant.auth,
    )


async def listed_refs(api: Api, tenant: Tenant, **params: str) -> list[str]:
    """externalRefIDs of every order the list shows, failed ones included."""
    refs: list[str] = []
    for status in ("", "FAILED"):
        query = {**params, **({"orderStatus": status} if status else {})}
        response = await api.http.get(ORDERS, params=query, auth=tenant.auth)
        assert response.status_code == 200, response.text
        refs += [order["externalRefID"] for order in response.json()["orders"]]
    return refs


async def assert_nothing_stored(
    api: Api, tenant: Tenant, ref: str, funds: Decimal
) -> None:
    found = await api.http.get(tenant.order_url(ref), auth=tenant.auth)
    assert found.status_code == 404, found.text
    assert found.json()["i18nKey"] == "404.001"
    assert await listed_refs(api, tenant) == []
    assert await balance(api, tenant) == funds


async def platform_id(api: Api, name: str) -> int:
    async with api.runtime.database.sessions() as session:
        found = await platform_repository.get_by_name(session, name)
    assert found is not None
    return found.id


async def fund(api: Api, tenant: Tenant, amount: Decimal) -> None:
    pid = await platform_id(api, tenant.platform)
    async with api.runtime.database.sessions() as session:
        await accounts.fund(session, pid, tenant.account, amount)
        await session.commit()


async def line_items(api: Api, tenant: Tenant, ref: str) -> list[dict[str, Any]]:
    response = await api.http.get(
        tenant.order_url(ref) + "/lineItems",
        params={"maxResults": "100"},
        auth=tenant.auth,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = decimal_json(response)["lineItems"]
    return items


def failures_by_ref(body: dict[str, Any]) -> dict[str, list[str]]:
    return {
        failure["externalRefLineItemID"]: sorted(
            error["errorCodeName"] for error in failure["errors"]
        )
        for failure in body["failedLineItems"]
    }


def days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


FUNDS = Decimal("10000.00")


# ---- a new order ----------------------------------------------------------------


async def test_new_order_is_accepted_with_202_and_the_entity(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, "order-1", lineItems=[line("a"), line("b")]),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["externalRefID"] == "order-1"
    assert body["status"] == "PENDING"
    assert body["totalLineItems"] == 2
    assert body["failedLineItems"] == []
    assert body["duplicateLineItemRefIds"] == {}
    assert isinstance(body["referenceOrderID"], str)
    assert body["referenceOrderID"]
    created = datetime.fromisoformat(body["createdAt"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - created.astimezone(UTC)) < timedelta(minutes=5)
    assert response.headers.get("ETag")
    assert response.headers.get("X-REQUEST-ID")
    assert await balance(api, tenant) == FUNDS - Decimal("50.00")
    read = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert read.headers.get("ETag") == response.headers["ETag"]


async def test_new_order_can_be_read_back_after_acceptance(
    api: Api, tenant: Tenant
) -> None:
    created = await create_order(api.http, tenant, "order-1", campaign="spring")

    response = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["referenceOrderID"] == created["referenceOrderID"]
    assert body["campaign"] == "spring"
    assert body["customerIdentifier"] == tenant.customer
    assert body["accountIdentifier"] == tenant.account


# ---- idempotency ----------------------------------------------------------------


async def test_repeat_with_same_external_ref_id_returns_200_and_original_order(
    api: Api, tenant: Tenant
) -> None:
    first = await create_order(api.http, tenant, "order-1")

    repeat = await api.http.post(
        ORDERS,
        json=order_body(
            tenant,
            "order-1",
            campaign="different",
            lineItems=[line("x", amount=500), line("y", amount=700)],
        ),
        auth=tenant.auth,
    )

    assert repeat.status_code == 200, repeat.text
    body = repeat.json()
    assert body["referenceOrderID"] == first["referenceOrderID"]
    assert body["externalRefID"] == "order-1"
    assert body["totalLineItems"] == 1
    assert body["createdAt"] == first["createdAt"]
    assert repeat.headers.get("ETag")
    assert await balance(api, tenant) == FUNDS - Decimal("25.00")
    stored = await line_items(api, tenant, "order-1")
    assert [item["externalRefLineItemID"] for item in stored] == ["line-1"]
    summary = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert summary.json()["campaign"] is None


async def test_repeat_of_identical_request_charges_only_once(
    api: Api, tenant: Tenant
) -> None:
    body = order_body(tenant, "order-1", lineItems=[line("a", amount=40)])
    statuses = []
    for _ in range(3):
        response = await api.http.post(ORDERS, json=body, auth=tenant.auth)
        statuses.append(response.status_code)

    assert statuses == [202, 200, 200]
    assert await balance(api, tenant) == FUNDS - Decimal("40.00")
    assert await listed_refs(api, tenant) == ["order-1"]


async def test_concurrent_repeats_create_one_order_and_charge_once(
    api: Api, tenant: Tenant
) -> None:
    body = order_body(tenant, "order-1", lineItems=[line("a", amount=40)])
    responses: list[httpx.Response] = []

    async def post() -> None:
        responses.append(await api.http.post(ORDERS, json=body, auth=tenant.auth))

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(post)

    assert sorted(r.status_code for r in responses) == [200] * 5 + [202], [
        r.text for r in responses
    ]
    assert len({r.json()["referenceOrderID"] for r in responses}) == 1
    assert await balance(api, tenant) == FUNDS - Decimal("40.00")
    assert await listed_refs(api, tenant) == ["order-1"]


async def test_concurrent_orders_never_overdraw_the_account(api: Api) -> None:
    poor = await make_tenant(api.runtime, "poor", funds=Decimal("100.00"))
    responses: list[httpx.Response] = []

    async def post(ref: str) -> None:
        body = order_body(poor, ref, lineItems=[line("a", amount=25)])
        responses.append(await api.http.post(ORDERS, json=body, auth=poor.auth))

    async with anyio.create_task_group() as group:
        for i in range(10):
            group.start_soon(post, f"order-{i}")

    codes = sorted(r.status_code for r in responses)
    assert codes == [202] * 4 + [402] * 6, [r.text for r in responses]
    assert await balance(api, poor) == Decimal("0.00")
    assert len(await listed_refs(api, poor)) == 4


async def test_same_external_ref_id_in_another_account_is_a_new_order(
    api: Api, tenant: Tenant
) -> None:
    second = await api.http.post(
        f"/customers/{tenant.customer}/accounts",
        json={
            "accountIdentifier": "acme-second",
            "displayName": "acme second",
            "contactEmail": "ops@acme.example",
        },
        auth=tenant.auth,
    )
    assert second.status_code == 201, second.text
    other = Tenant(tenant.platform, tenant.key, tenant.customer, "acme-second")
    await fund(api, other, Decimal("100.00"))
    first = await create_order(api.http, tenant, "order-1")

    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, "order-1", accountIdentifier="acme-second"),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    assert response.json()["referenceOrderID"] != first["referenceOrderID"]
    assert await balance(api, other) == Decimal("75.00")
    assert await balance(api, tenant) == FUNDS - Decimal("25.00")


# ---- funds ----------------------------------------------------------------------


async def test_a_total_beyond_any_balance_answers_402_and_stores_nothing(
    api: Api, tenant: Tenant
) -> None:
    catalog_file = demo_catalog()
    huge = (
        catalog_file.brands[0]
        .items[1]
        .model_copy(update={"utid": "U777777", "maxValue": accounts.MAX_BALANCE})
    )
    catalog_file.brands[0].items.append(huge)
    async with api.runtime.database.sessions() as session:
        await catalog.load(session, catalog_file)
        await session.commit()
    lines = [
        line(f"l{n}", utid="U777777", amount=str(accounts.MAX_BALANCE), quantity=1000)
        for n in range(10)
    ]

    response = await api.http.post(
        ORDERS, json=order_body(tenant, "huge", lineItems=lines), auth=tenant.auth
    )

    assert_envelope(response, 402, "402.001")
    await assert_nothing_stored(api, tenant, "huge", FUNDS)


async def test_insufficient_funds_answers_402_stores_nothing_and_retry_succeeds(
    api: Api,
) -> None:
    poor = await make_tenant(api.runtime, "poor", funds=Decimal("10.00"))
    body = order_body(poor, "order-1", lineItems=[line("a", amount=25)])

    refused = await api.http.post(ORDERS, json=body, auth=poor.auth)

    assert refused.status_code == 402, refused.text
    error = refused.json()
    assert error["httpCode"] == 402
    assert error["i18nKey"] == "402.001"
    assert error["path"] == "/raas/v2/asyncOrders"
    assert error["requestId"] == refused.headers["X-REQUEST-ID"]
    await assert_nothing_stored(api, poor, "order-1", Decimal("10.00"))

    await fund(api, poor, Decimal("100.00"))
    retried = await api.http.post(ORDERS, json=body, auth=poor.auth)

    assert retried.status_code == 202, retried.text
    assert retried.json()["externalRefID"] == "order-1"
    assert await balance(api, poor) == Decimal("85.00")
    assert await listed_refs(api, poor) == ["order-1"]


async def test_balance_exactly_equal_to_total_is_enough(api: Api) -> None:
    exact = await make_tenant(api.runtime, "exact", funds=Decimal("3.30"))

    response = await post_raw(
        api,
        exact,
        json.dumps(
            order_body(
                exact,
                "order-1",
                lineItems=[line("a", amount="@1.10@"), line("b", amount="@2.20@")],
            )
        )
        .replace('"@1.10@"', "1.10")
        .replace('"@2.20@"', "2.20"),
    )

    assert response.status_code == 202, response.text
    assert await balance(api, exact) == Decimal("0.00")


async def test_invalid_lines_do_not_count_towards_the_funds_check(api: Api) -> None:
    poor = await make_tenant(api.runtime, "poor", funds=Decimal("30.00"))

    response = await api.http.post(
        ORDERS,
        json=order_body(
            poor,
            "order-1",
            lineItems=[line("ok", amount=30), line("bad", utid="U000005", amount=900)],
        ),
        auth=poor.auth,
    )

    assert response.status_code == 202, response.text
    assert await balance(api, poor) == Decimal("0.00")


# ---- per-line failures ----------------------------------------------------------

FULL_ADDRESS = {
    "streetLine1": "1 Main St",
    "city": "Springfield",
    "stateOrProvince": "IL",
    "postalCode": "62701",
    "country": "US",
}
ADDRESS_RECIPIENT = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "address": FULL_ADDRESS,
}

LINE_FAILURES: list[tuple[str, dict[str, Any], set[str]]] = [
    ("unknown-utid", {"utid": "U123456"}, {"INVALID_UTID"}),
    ("inactive-item", {"utid": "U000005", "amount": 10}, {"ITEM_INACTIVE"}),
    ("currency-mismatch", {"utid": "U000004", "amount": 10}, {"CURRENCY_MISMATCH"}),
    ("not-face-value", {"utid": "U000001", "amount": 20}, {"AMOUNT_NOT_FACE_VALUE"}),
    ("above-range", {"utid": "U000003", "amount": 501}, {"AMOUNT_OUT_OF_RANGE"}),
    ("below-range", {"utid": "U000002", "amount": "0.99"}, {"AMOUNT_OUT_OF_RANGE"}),
    (
        "email-without-email",
        {"recipient": {"firstName": "Ada"}},
        {"RECIPIENT_FIELD_REQUIRED"},
    ),
    (
        "address-without-shipping",
        {"deliveryMethod": "ADDRESS", "recipient": ADDRESS_RECIPIENT},
        {"SHIPPING_METHOD_REQUIRED"},
    ),
    (
        "address-without-address-fields",
        {
            "deliveryMethod": "ADDRESS",
            "shippingMethod": "upsground",
            "recipient": {
                "firstName": "Ada",
                "lastName": "Lovelace",
                "address": {"streetLine1": "1 Main St"},
            },
        },
        {"RECIPIENT_FIELD_REQUIRED"},
    ),
    (
        "address-without-recipient-address",
        {
            "deliveryMethod": "ADDRESS",
            "shippingMethod": "upsground",
            "recipient": {"firstName": "Ada", "lastName": "Lovelace"},
        },
        {"RECIPIENT_FIELD_REQUIRED"},
    ),
    (
        "phone-without-mobile",
        {"deliveryMethod": "PHONE", "recipient": {"firstName": "Ada"}},
        {"RECIPIENT_FIELD_REQUIRED"},
    ),
    ("delivery-too-soon", {"deliveryDate": "+3"}, {"DELIVERY_DATE_TOO_SOON"}),
]


def _resolve(overrides: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(overrides)
    if resolved.get("deliveryDate") == "+3":
        resolved["deliveryDate"] = days_ahead(3)
    return resolved


@pytest.mark.parametrize(
    ("ref", "overrides", "codes"),
    LINE_FAILURES,
    ids=[case[0] for case in LINE_FAILURES],
)
async def test_failing_line_is_listed_with_its_error_code_and_not_charged(
    api: Api,
    tenant: Tenant,
    ref: str,
    overrides: dict[str, Any],
    codes: set[str],
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant,
            "order-1",
            lineItems=[line("good", amount=12), line(ref, **_resolve(overrides))],
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["totalLineItems"] == 2
    [failure] = body["failedLineItems"]
    assert failure["externalRefLineItemID"] == ref
    assert failure["utid"] == overrides.get("utid", "U000002")
    assert isinstance(failure["lineItemId"], str)
    assert failure["lineItemId"]
    assert {error["errorCodeName"] for error in failure["errors"]} == codes
    for error in failure["errors"]:
        assert set(error) == {"field", "errorCodeValue", "errorCodeName", "message"}
        assert isinstance(error["errorCodeValue"], int)
        assert error["message"]
    assert await balance(api, tenant) == FUNDS - Decimal("12.00")
    items = await line_items(api, tenant, "order-1")
    stored = {item["externalRefLineItemID"]: item for item in items}
    assert stored[ref]["lineItemStatus"] == "FAILED"
    assert stored[ref]["referenceLineItemID"] == failure["lineItemId"]
    assert stored[ref]["amountCharged"]["total"] == 0
    assert stored["good"]["lineItemStatus"] == "PENDING"
    assert stored["good"]["amountCharged"]["total"] == Decimal("12")


async def test_unknown_utid_carries_tango_error_code_400500(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, lineItems=[line("a"), line("b", utid="U999999")]),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    [failure] = response.json()["failedLineItems"]
    [error] = failure["errors"]
    assert error == {
        "field": "utid",
        "errorCodeValue": 400500,
        "errorCodeName": "INVALID_UTID",
        "message": error["message"],
    }


async def test_email_line_without_email_names_the_missing_recipient_field(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant,
            lineItems=[line("a"), line("b", recipient={"firstName": "Ada"})],
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    [failure] = response.json()["failedLineItems"]
    assert [(e["errorCodeName"], e["field"]) for e in failure["errors"]] == [
        ("RECIPIENT_FIELD_REQUIRED", "recipient.email")
    ]


async def test_delivery_date_eight_days_ahead_is_accepted(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant, lineItems=[line("later", amount=9, deliveryDate=days_ahead(8))]
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    assert response.json()["failedLineItems"] == []
    assert response.json()["status"] == "PENDING"
    assert await balance(api, tenant) == FUNDS - Decimal("9.00")


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2099-03-04", "2099-03-04T00:00:00Z"),
        ("2099-03-04T10:30:00", "2099-03-04T10:30:00Z"),
        ("2099-03-04T10:30:00+02:00", "2099-03-04T08:30:00Z"),
    ],
)
async def test_delivery_date_without_an_offset_is_read_as_utc(
    api: Api, tenant: Tenant, sent: str, stored: str
) -> None:
    created = await api.http.post(
        ORDERS,
        json=order_body(tenant, lineItems=[line("later", deliveryDate=sent)]),
        auth=tenant.auth,
    )
    shown = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)

    assert created.status_code == 202, created.text
    assert created.json()["failedLineItems"] == []
    assert shown.json()["lineItems"][0]["scheduledDeliveryDate"] == stored


async def test_delivery_date_in_the_past_without_an_offset_fails_the_line(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant, lineItems=[line("past", deliveryDate="2020-01-01T00:00:00")]
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    [failure] = response.json()["failedLineItems"]
    assert [e["errorCodeName"] for e in failure["errors"]] == ["DELIVERY_DATE_TOO_SOON"]


@pytest.mark.parametrize(
    "sent", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00"]
)
async def test_delivery_date_outside_the_utc_range_is_refused_whole(
    api: Api, tenant: Tenant, sent: str
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, lineItems=[line("edge", deliveryDate=sent)]),
        auth=tenant.auth,
    )

    body = assert_envelope(response, 400, "400.002")
    assert [e["path"] for e in body["errors"]] == ["lineItems[0].deliveryDate"]
    assert await balance(api, tenant) == FUNDS


async def test_complete_address_line_with_shipping_method_is_accepted(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant,
            lineItems=[
                line(
                    "mail",
                    amount=15,
                    deliveryMethod="ADDRESS",
                    shippingMethod="usps1stclass",
                    recipient=ADDRESS_RECIPIENT,
                )
            ],
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    assert response.json()["failedLineItems"] == []
    assert await balance(api, tenant) == FUNDS - Decimal("15.00")


async def test_mixed_order_charges_exactly_the_valid_lines_amount_times_quantity(
    api: Api, tenant: Tenant
) -> None:
    lines = [
        line("v-qty", utid="U000002", amount="10.05", quantity=3),  # 30.15
        line("v-face", utid="U000001", amount=25),  # 25.00
        line("v-later", amount="7.50", deliveryDate=days_ahead(8)),  # 7.50
        line(
            "v-mail",
            amount=5,
            deliveryMethod="ADDRESS",
            shippingMethod="upsground",
            recipient=ADDRESS_RECIPIENT,
        ),  # 5.00
        line("x-unknown", utid="U123456", quantity=4),
        line("x-inactive", utid="U000005", amount=10, quantity=2),
        line("x-eur", utid="U000004", amount=10),
        line("x-face", utid="U000001", amount=20),
        line("x-range", utid="U000003", amount=501),
        line("x-email", recipient={"firstName": "Ada"}, quantity=5),
        line("x-address", deliveryMethod="ADDRESS", recipient=ADDRESS_RECIPIENT),
        line("x-soon", amount=100, deliveryDate=days_ahead(3)),
    ]
    raw = json.dumps(order_body(tenant, "order-1", lineItems=lines))

    response = await post_raw(
        api, tenant, raw.replace('"10.05"', "10.05").replace('"7.50"', "7.50")
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["totalLineItems"] == 12
    assert failures_by_ref(body) == {
        "x-unknown": ["INVALID_UTID"],
        "x-inactive": ["ITEM_INACTIVE"],
        "x-eur": ["CURRENCY_MISMATCH"],
        "x-face": ["AMOUNT_NOT_FACE_VALUE"],
        "x-range": ["AMOUNT_OUT_OF_RANGE"],
        "x-email": ["RECIPIENT_FIELD_REQUIRED"],
        "x-address": ["SHIPPING_METHOD_REQUIRED"],
        "x-soon": ["DELIVERY_DATE_TOO_SOON"],
    }
    total = Decimal("30.15") + Decimal("25.00") + Decimal("7.50") + Decimal("5.00")
    assert await balance(api, tenant) == FUNDS - total
    summary = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert decimal_json(summary)["amountCharged"]["total"] == total
    items = await line_items(api, tenant, "order-1")
    stored = {item["externalRefLineItemID"]: item for item in items}
    charged = {ref: item["amountCharged"]["total"] for ref, item in stored.items()}
    assert charged == {
        "v-qty": Decimal("30.15"),
        "v-face": Decimal("25"),
        "v-later": Decimal("7.5"),
        "v-mail": Decimal("5"),
        **{ref: Decimal("0") for ref in failures_by_ref(body)},
    }


async def test_order_whose_every_line_fails_is_failed_and_charges_nothing(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant,
            "order-1",
            lineItems=[
                line("a", utid="U123456"),
                line("b", utid="U000005", amount=10),
                line("c", amount=5000),
            ],
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "FAILED"
    assert len(body["failedLineItems"]) == 3
    assert await balance(api, tenant) == FUNDS
    summary = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert summary.status_code == 200, summary.text
    assert summary.json()["orderStatus"] == "FAILED"
    assert decimal_json(summary)["amountCharged"]["total"] == 0


async def test_failed_order_repeat_returns_200_and_still_charges_nothing(
    api: Api, tenant: Tenant
) -> None:
    body = order_body(tenant, "order-1", lineItems=[line("a", utid="U123456")])
    first = await api.http.post(ORDERS, json=body, auth=tenant.auth)
    fixed = order_body(tenant, "order-1", lineItems=[line("a")])

    repeat = await api.http.post(ORDERS, json=fixed, auth=tenant.auth)

    assert first.status_code == 202, first.text
    assert repeat.status_code == 200, repeat.text
    assert repeat.json()["status"] == "FAILED"
    assert repeat.json()["referenceOrderID"] == first.json()["referenceOrderID"]
    assert await balance(api, tenant) == FUNDS


# ---- duplicate line references --------------------------------------------------


async def test_duplicate_line_reference_is_counted_stored_once_and_charged_once(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(
            tenant,
            "order-1",
            lineItems=[
                line("dup", amount=20),
                line("single", amount=5),
                line("dup", amount=20),
                line("twice", amount=3),
                line("dup", amount=20),
                line("twice", amount=3),
            ],
        ),
        auth=tenant.auth,
    )

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicateLineItemRefIds"] == {"dup": 3, "twice": 2}
    assert body["failedLineItems"] == []
    assert body["totalLineItems"] == 6
    items = await line_items(api, tenant, "order-1")
    stored = [item["externalRefLineItemID"] for item in items]
    assert sorted(stored) == ["dup", "single", "twice"]
    assert await balance(api, tenant) == FUNDS - Decimal("28.00")


# ---- whole-request problems -----------------------------------------------------


async def _assert_refused(
    api: Api,
    tenant: Tenant,
    response: httpx.Response,
    i18n_key: str,
    paths: list[str] | None = None,
) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()
    assert error["httpCode"] == 400
    assert error["httpPhrase"] == "Bad Request"
    assert error["i18nKey"] == i18n_key
    assert error["path"] == "/raas/v2/asyncOrders"
    assert error["requestId"] == response.headers["X-REQUEST-ID"]
    assert error["message"]
    if paths is not None:
        assert sorted(item["path"] for item in error["errors"]) == sorted(paths)
        for item in error["errors"]:
            assert item["i18nKey"] == "400.002"
            assert item["code"] == 400002
            assert item["message"]
    await assert_nothing_stored(api, tenant, "order-1", FUNDS)
    return error


async def test_malformed_json_is_refused_with_400_001(api: Api, tenant: Tenant) -> None:
    response = await post_raw(api, tenant, b'{"externalRefID": "order-1", ')

    await _assert_refused(api, tenant, response, "400.001")


@pytest.mark.parametrize(
    "content", ["[]", '"order"', "42", "null", "true"], ids=str.strip
)
async def test_body_that_is_not_an_object_is_refused_with_400_001(
    api: Api, tenant: Tenant, content: str
) -> None:
    response = await post_raw(api, tenant, content)

    await _assert_refused(api, tenant, response, "400.001")


def _without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def _line_without(name: str) -> dict[str, Any]:
    return {k: v for k, v in line().items() if k != name}


WHOLE_REQUEST_PROBLEMS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("missing-external-ref-id", {"drop": "externalRefID"}, ["externalRefID"]),
    ("missing-line-items", {"drop": "lineItems"}, ["lineItems"]),
    (
        "missing-customer",
        {"drop": "customerIdentifier"},
        ["customerIdentifier"],
    ),
    ("missing-account", {"drop": "accountIdentifier"}, ["accountIdentifier"]),
    (
        "missing-recipient",
        {"lineItems": [_line_without("recipient")]},
        ["lineItems[0].recipient"],
    ),
    ("missing-utid", {"lineItems": [_line_without("utid")]}, ["lineItems[0].utid"]),
    (
        "missing-amount",
        {"lineItems": [_line_without("amount")]},
        ["lineItems[0].amount"],
    ),
    (
        "missing-line-ref",
        {"lineItems": [_line_without("externalRefLineItemID")]},
        ["lineItems[0].externalRefLineItemID"],
    ),
    (
        "bad-utid-pattern",
        {"lineItems": [line(utid="X000002")]},
        ["lineItems[0].utid"],
    ),
    (
        "bad-customer-pattern",
        {"customerIdentifier": "bad id!"},
        ["customerIdentifier"],
    ),
    ("short-customer", {"customerIdentifier": "abc"}, ["customerIdentifier"]),
    ("bad-account-pattern", {"accountIdentifier": "acme_acct"}, ["accountIdentifier"]),
    ("empty-line-items", {"lineItems": []}, ["lineItems"]),
    (
        "amount-three-decimals",
        {"lineItems": [line(amount=1.005)]},
        ["lineItems[0].amount"],
    ),
    ("negative-amount", {"lineItems": [line(amount=-5)]}, ["lineItems[0].amount"]),
    (
        "bad-delivery-method",
        {"lineItems": [line(deliveryMethod="PIGEON")]},
        ["lineItems[0].deliveryMethod"],
    ),
    ("zero-quantity", {"lineItems": [line(quantity=0)]}, ["lineItems[0].quantity"]),
    (
        "external-ref-too-long",
        {"externalRefID": "x" * 101},
        ["externalRefID"],
    ),
    (
        "two-problems-two-entries",
        {
            "lineItems": [
                line("a"),
                line("b", utid="nope", amount=-1),
            ]
        },
        ["lineItems[1].utid", "lineItems[1].amount"],
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "paths"),
    WHOLE_REQUEST_PROBLEMS,
    ids=[case[0] for case in WHOLE_REQUEST_PROBLEMS],
)
async def test_whole_request_problem_is_refused_with_400_and_one_entry_per_problem(
    api: Api,
    tenant: Tenant,
    case: str,
    change: dict[str, Any],
    paths: list[str],
) -> None:
    body = order_body(tenant, "order-1")
    if "drop" in change:
        body = _without(body, change["drop"])
    else:
        body.update(change)

    response = await api.http.post(ORDERS, json=body, auth=tenant.auth)

    error = await _assert_refused(api, tenant, response, "400.002", paths)
    assert all(item["constraint"] for item in error["errors"]), case


async def test_missing_field_entry_reads_as_not_null(api: Api, tenant: Tenant) -> None:
    body = _without(order_body(tenant, "order-1"), "externalRefID")

    response = await api.http.post(ORDERS, json=body, auth=tenant.auth)

    error = await _assert_refused(api, tenant, response, "400.002", ["externalRefID"])
    [item] = error["errors"]
    assert item["constraint"] == "NotNull"


# ---- unknown customer or account ------------------------------------------------


async def test_unknown_account_is_404_and_stores_nothing(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, "order-1", accountIdentifier="no-such-account"),
        auth=tenant.auth,
    )

    assert response.status_code == 404, response.text
    assert response.json()["i18nKey"] == "404.002"
    assert response.json()["httpCode"] == 404
    await assert_nothing_stored(api, tenant, "order-1", FUNDS)


async def test_unknown_customer_is_404_and_stores_nothing(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, "order-1", customerIdentifier="no-such-customer"),
        auth=tenant.auth,
    )

    assert response.status_code == 404, response.text
    assert response.json()["i18nKey"] == "404.002"
    await assert_nothing_stored(api, tenant, "order-1", FUNDS)


async def test_account_of_another_customer_is_404_and_stores_nothing(
    api: Api, tenant: Tenant
) -> None:
    created = await api.http.post(
        "/customers",
        json={"customerIdentifier": "acme-other", "displayName": "acme other"},
        auth=tenant.auth,
    )
    assert created.status_code == 201, created.text

    response = await api.http.post(
        ORDERS,
        json=order_body(tenant, "order-1", customerIdentifier="acme-other"),
        auth=tenant.auth,
    )

    assert response.status_code == 404, response.text
    assert response.json()["i18nKey"] == "404.002"
    await assert_nothing_stored(api, tenant, "order-1", FUNDS)
    other = Tenant(tenant.platform, tenant.key, "acme-other", tenant.account)
    found = await api.http.get(other.order_url("order-1"), auth=tenant.auth)
    assert found.status_code == 404


async def test_account_of_another_platform_is_404_and_stores_nothing(
    api: Api, tenant: Tenant
) -> None:
    intruder = await make_tenant(api.runtime, "intruder")

    response = await api.http.post(
        ORDERS, json=order_body(tenant, "order-1"), auth=intruder.auth
    )

    assert response.status_code == 404, response.text
    assert response.json()["i18nKey"] == "404.002"
    await assert_nothing_stored(api, tenant, "order-1", FUNDS)
    assert await listed_refs(api, intruder) == []
    assert await balance(api, intruder) == FUNDS


# ---- money is exact -------------------------------------------------------------


async def test_amounts_are_charged_exactly_without_binary_rounding(
    api: Api, tenant: Tenant
) -> None:
    lines = [
        '{"externalRefLineItemID": "a", "utid": "U000002", "amount": 1.10,'
        ' "deliveryMethod": "NONE", "recipient": {}}',
        '{"externalRefLineItemID": "b", "utid": "U000002", "amount": 2.20,'
        ' "deliveryMethod": "NONE", "recipient": {}}',
        '{"externalRefLineItemID": "c", "utid": "U000002", "amount": 1.10,'
        ' "deliveryMethod": "NONE", "recipient": {}, "quantity": 3}',
    ] + [
        f'{{"externalRefLineItemID": "d{i}", "utid": "U000002", "amount": 1.01,'
        f' "deliveryMethod": "NONE", "recipient": {{}}}}'
        for i in range(10)
    ]
    raw = (
        f'{{"externalRefID": "order-1", "customerIdentifier": "{tenant.customer}",'
        f' "accountIdentifier": "{tenant.account}", "lineItems": [{",".join(lines)}]}}'
    )

    response = await post_raw(api, tenant, raw)

    assert response.status_code == 202, response.text
    expected = Decimal("1.10") + Decimal("2.20") + Decimal("3.30") + Decimal("10.10")
    assert await balance(api, tenant) == FUNDS - expected
    assert str(await balance(api, tenant)) in {"9983.3", "9983.30"}
    summary = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert decimal_json(summary)["amountCharged"]["total"] == expected
    async with api.runtime.database.sessions() as session:
        found, _ = await accounts.get_account(
            session, await platform_id(api, tenant.platform), tenant.account
        )
        totals = await accounts.ledger_totals(session, found.id)
    assert totals.charged == expected
    assert totals.expected_balance == found.balance == FUNDS - expected


async def test_large_amounts_stay_exact(api: Api) -> None:
    rich = await make_tenant(api.runtime, "rich", funds=Decimal("9999999999999.99"))
    lines = [
        line(f"l{i}", utid="U000002", amount="@1999.99@", quantity=1000)
        for i in range(3)
    ]
    raw = json.dumps(order_body(rich, "order-1", lineItems=lines))

    response = await post_raw(api, rich, raw.replace('"@1999.99@"', "1999.99"))

    assert response.status_code == 202, response.text
    assert await balance(api, rich) == Decimal("9999999999999.99") - Decimal(
        "5999970.00"
    )


# ---- maximum line items ---------------------------------------------------------


async def test_more_line_items_than_the_maximum_is_refused_with_400(
    api: Api, tenant: Tenant
) -> None:
    settings = api.settings.model_copy(update={"max_line_items": 2})
    app = create_app(settings)
    app.state.runtime = Runtime(settings, api.runtime.database, api.runtime.secret)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    three = [line(f"l{i}") for i in range(3)]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver/raas/v2"
    ) as http:
        refused = await http.post(
            ORDERS,
            json=order_body(tenant, "order-1", lineItems=three),
            auth=tenant.auth,
        )
        accepted = await http.post(
            ORDERS,
            json=order_body(tenant, "order-2", lineItems=three[:2]),
            auth=tenant.auth,
        )

    assert refused.status_code == 400, refused.text
    error = refused.json()
    assert error["i18nKey"] == "400.002"
    assert [item["path"] for item in error["errors"]] == ["lineItems"]
    assert accepted.status_code == 202, accepted.text
    missing = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert missing.status_code == 404
    assert await balance(api, tenant) == FUNDS - Decimal("50.00")
