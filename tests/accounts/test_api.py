"""Customers and accounts over HTTP, and funding through the service."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from asyncorders.accounts import service as accounts
from asyncorders.accounts.service import MAX_BALANCE
from asyncorders.errors import CustomerOrAccountNotFound, ValidationFailed
from asyncorders.platforms import repository as platform_repository
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant, make_tenant

pytestmark = pytest.mark.anyio

SUMMARY_KEYS = {"customerIdentifier", "displayName", "status", "createdAt", "accounts"}
ACCOUNT_SUMMARY_KEYS = {
    "accountIdentifier",
    "accountNumber",
    "displayName",
    "createdAt",
    "status",
    "currencyCode",
}
ACCOUNT_KEYS = ACCOUNT_SUMMARY_KEYS | {
    "currentBalance",
    "contactEmail",
    "customerIdentifier",
}


def exact(response: httpx.Response) -> Any:
    """The JSON body with every number read as an exact Decimal."""
    return json.loads(response.text, parse_float=Decimal, parse_int=Decimal)


def customer(identifier: str = "new-customer", **overrides: Any) -> dict[str, Any]:
    return {
        "customerIdentifier": identifier,
        "displayName": "New Customer Inc.",
        **overrides,
    }


def account(identifier: str = "new-account", **overrides: Any) -> dict[str, Any]:
    return {
        "accountIdentifier": identifier,
        "displayName": "Main account",
        "contactEmail": "billing@example.com",
        **overrides,
    }


def recent(value: str) -> bool:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.tzinfo is not None and abs(datetime.now(UTC) - moment) < timedelta(
        minutes=1
    )


async def _platform_id(api: Api, name: str) -> int:
    async with api.runtime.database.sessions() as session:
        platform = await platform_repository.get_by_name(session, name)
    assert platform is not None
    return platform.id


async def _fund(api: Api, platform: str, account_id: str, amount: Decimal) -> Decimal:
    platform_id = await _platform_id(api, platform)
    async with api.runtime.database.sessions() as session:
        funded = await accounts.fund(session, platform_id, account_id, amount)
        await session.commit()
    return funded.balance


# ---- customers -----------------------------------------------------------------------


async def test_create_customer_answers_201_with_a_customer_summary(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post("/customers", json=customer(), auth=tenant.auth)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == SUMMARY_KEYS
    assert body["customerIdentifier"] == "new-customer"
    assert body["displayName"] == "New Customer Inc."
    assert body["status"] == "ACTIVE"
    assert body["accounts"] == []
    assert recent(body["createdAt"])
    assert len(response.headers.get_list("x-request-id")) == 1


async def test_create_customer_ignores_unknown_members(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        "/customers", json=customer(favouriteColour="blue"), auth=tenant.auth
    )

    assert response.status_code == 201, response.text
    assert "favouriteColour" not in response.json()


async def test_duplicate_customer_answers_409(api: Api, tenant: Tenant) -> None:
    first = await api.http.post("/customers", json=customer(), auth=tenant.auth)
    second = await api.http.post(
        "/customers",
        json=customer(displayName="Another name"),
        auth=tenant.auth,
    )

    assert first.status_code == 201
    assert_envelope(second, 409, "409.001")
    stored = await api.http.get("/customers/new-customer", auth=tenant.auth)
    assert stored.json()["displayName"] == "New Customer Inc."


async def test_duplicate_of_the_fixture_customer_answers_409(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        "/customers", json=customer(tenant.customer), auth=tenant.auth
    )

    assert_envelope(response, 409, "409.001")


@pytest.mark.parametrize(
    "identifier",
    ["abcd", "x" * 101, "has space", "under_score", "dots.are.out", "ünïcode", ""],
)
async def test_bad_customer_identifier_answers_400(
    api: Api, tenant: Tenant, identifier: str
) -> None:
    response = await api.http.post(
        "/customers", json=customer(identifier), auth=tenant.auth
    )

    body = assert_envelope(response, 400, "400.002")
    assert [p["path"] for p in body["errors"]] == ["customerIdentifier"]
    assert body["errors"][0]["constraint"] == "Pattern"
    assert body["errors"][0]["code"] == 400002


@pytest.mark.parametrize(
    "identifier", ["abcde", "x" * 100, "A-b-C-1-2-3", "-----", "12345"]
)
async def test_customer_identifier_pattern_accepts_its_range(
    api: Api, tenant: Tenant, identifier: str
) -> None:
    response = await api.http.post(
        "/customers", json=customer(identifier), auth=tenant.auth
    )

    assert response.status_code == 201, response.text
    assert response.json()["customerIdentifier"] == identifier


@pytest.mark.parametrize(
    "display_name", ["abcd", "y" * 101, "tab\tseparated", "emoji 🎉 party", ""]
)
async def test_bad_display_name_answers_400(
    api: Api, tenant: Tenant, display_name: str
) -> None:
    response = await api.http.post(
        "/customers", json=customer(displayName=display_name), auth=tenant.auth
    )

    body = assert_envelope(response, 400, "400.002")
    assert [p["path"] for p in body["errors"]] == ["displayName"]


@pytest.mark.parametrize(
    "display_name", ["Acme Inc.", "Ünïcødé Gmbh", "名前のある会社", "z" * 100]
)
async def test_display_name_accepts_letters_digits_punctuation_and_spaces(
    api: Api, tenant: Tenant, display_name: str
) -> None:
    response = await api.http.post(
        "/customers", json=customer(displayName=display_name), auth=tenant.auth
    )

    assert response.status_code == 201, response.text
    assert response.json()["displayName"] == display_name


async def test_wrong_types_answer_400_with_one_entry_per_field(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        "/customers",
        json={"customerIdentifier": 12345, "displayName": ["a"]},
        auth=tenant.auth,
    )

    body = assert_envelope(response, 400, "400.002")
    assert sorted(p["path"] for p in body["errors"]) == [
        "customerIdentifier",
        "displayName",
    ]


async def test_list_customers_shows_each_with_its_accounts(
    api: Api, tenant: Tenant
) -> None:
    await api.http.post("/customers", json=customer(), auth=tenant.auth)
    await api.http.post(
        "/customers/new-customer/accounts", json=account(), auth=tenant.auth
    )

    response = await api.http.get("/customers", auth=tenant.auth)

    assert response.status_code == 200
    body = response.json()
    assert [c["customerIdentifier"] for c in body] == [tenant.customer, "new-customer"]
    for entry in body:
        assert set(entry) == SUMMARY_KEYS
        for summary in entry["accounts"]:
            assert set(summary) == ACCOUNT_SUMMARY_KEYS
    assert [a["accountIdentifier"] for a in body[0]["accounts"]] == [tenant.account]
    assert [a["accountIdentifier"] for a in body[1]["accounts"]] == ["new-account"]


async def test_get_customer_shows_an_account_summary(api: Api, tenant: Tenant) -> None:
    await api.http.post(
        f"/customers/{tenant.customer}/accounts",
        json=account("second-account", currencyCode="EUR"),
        auth=tenant.auth,
    )

    response = await api.http.get(f"/customers/{tenant.customer}", auth=tenant.auth)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == SUMMARY_KEYS
    assert body["customerIdentifier"] == tenant.customer
    summaries = body["accounts"]
    assert [a["accountIdentifier"] for a in summaries] == [
        tenant.account,
        "second-account",
    ]
    assert [a["currencyCode"] for a in summaries] == ["USD", "EUR"]
    for summary in summaries:
        assert set(summary) == ACCOUNT_SUMMARY_KEYS
        assert summary["status"] == "ACTIVE"


async def test_unknown_customer_answers_404_002(api: Api, tenant: Tenant) -> None:
    response = await api.http.get("/customers/ghost-customer", auth=tenant.auth)

    assert_envelope(response, 404, "404.002")


# ---- accounts ------------------------------------------------------------------------


async def test_create_account_answers_201_with_zero_balance_in_usd(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        f"/customers/{tenant.customer}/accounts", json=account(), auth=tenant.auth
    )

    assert response.status_code == 201, response.text
    body = exact(response)
    assert set(body) == ACCOUNT_KEYS
    assert body["accountIdentifier"] == "new-account"
    assert body["customerIdentifier"] == tenant.customer
    assert body["displayName"] == "Main account"
    assert body["contactEmail"] == "billing@example.com"
    assert body["currencyCode"] == "USD"
    assert body["currentBalance"] == Decimal("0")
    assert body["status"] == "ACTIVE"
    assert body["accountNumber"]
    assert recent(body["createdAt"])


async def test_create_account_takes_a_currency(api: Api, tenant: Tenant) -> None:
    response = await api.http.post(
        f"/customers/{tenant.customer}/accounts",
        json=account(currencyCode="GBP"),
        auth=tenant.auth,
    )

    assert response.status_code == 201, response.text
    assert response.json()["currencyCode"] == "GBP"


async def test_account_numbers_are_unique(api: Api, tenant: Tenant) -> None:
    numbers = set()
    for index in range(5):
        response = await api.http.post(
            f"/customers/{tenant.customer}/accounts",
            json=account(f"account-{index}"),
            auth=tenant.auth,
        )
        assert response.status_code == 201, response.text
        numbers.add(response.json()["accountNumber"])

    assert len(numbers) == 5


async def test_duplicate_account_answers_409(api: Api, tenant: Tenant) -> None:
    first = await api.http.post(
        f"/customers/{tenant.customer}/accounts", json=account(), auth=tenant.auth
    )
    second = await api.http.post(
        f"/customers/{tenant.customer}/accounts",
        json=account(displayName="Renamed account"),
        auth=tenant.auth,
    )

    assert first.status_code == 201
    assert_envelope(second, 409, "409.001")


async def test_account_identifier_is_unique_across_the_platforms_customers(
    api: Api, tenant: Tenant
) -> None:
    await api.http.post("/customers", json=customer(), auth=tenant.auth)

    response = await api.http.post(
        "/customers/new-customer/accounts",
        json=account(tenant.account),
        auth=tenant.auth,
    )

    # GET /accounts/{a} names an account by its identifier alone.
    assert_envelope(response, 409, "409.001")


async def test_account_under_an_unknown_customer_answers_404_002(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        "/customers/ghost-customer/accounts", json=account(), auth=tenant.auth
    )

    assert_envelope(response, 404, "404.002")
    lookup = await api.http.get("/accounts/new-account", auth=tenant.auth)
    assert lookup.status_code == 404


@pytest.mark.parametrize(
    ("member", "value", "constraint"),
    [
        ("accountIdentifier", "abc", "Pattern"),
        ("displayName", "abc", "Pattern"),
        ("contactEmail", "not-an-email", "Pattern"),
        ("contactEmail", "a@b", "Pattern"),
        ("currencyCode", "XYZ", "Enum"),
        ("currencyCode", "usd", "Enum"),
    ],
)
async def test_bad_account_member_answers_400_naming_it(
    api: Api, tenant: Tenant, member: str, value: str, constraint: str
) -> None:
    response = await api.http.post(
        f"/customers/{tenant.customer}/accounts",
        json=account(**{member: value}),
        auth=tenant.auth,
    )

    body = assert_envelope(response, 400, "400.002")
    assert [p["path"] for p in body["errors"]] == [member]
    assert body["errors"][0]["constraint"] == constraint


async def test_get_account_shows_its_current_balance(api: Api, tenant: Tenant) -> None:
    response = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)

    assert response.status_code == 200
    body = exact(response)
    assert set(body) == ACCOUNT_KEYS
    assert body["accountIdentifier"] == tenant.account
    assert body["customerIdentifier"] == tenant.customer
    assert body["currentBalance"] == Decimal("10000.00")


async def test_unknown_account_answers_404_002(api: Api, tenant: Tenant) -> None:
    response = await api.http.get("/accounts/ghost-account", auth=tenant.auth)

    assert_envelope(response, 404, "404.002")


async def test_customer_accounts_list_shows_balances(api: Api, tenant: Tenant) -> None:
    await api.http.post(
        f"/customers/{tenant.customer}/accounts", json=account(), auth=tenant.auth
    )

    response = await api.http.get(
        f"/customers/{tenant.customer}/accounts", auth=tenant.auth
    )

    assert response.status_code == 200
    body = exact(response)
    assert [a["accountIdentifier"] for a in body] == [tenant.account, "new-account"]
    assert [a["currentBalance"] for a in body] == [Decimal("10000"), Decimal("0")]
    for entry in body:
        assert set(entry) == ACCOUNT_KEYS
        assert entry["customerIdentifier"] == tenant.customer


async def test_customer_without_accounts_lists_none(api: Api, tenant: Tenant) -> None:
    await api.http.post("/customers", json=customer(), auth=tenant.auth)

    response = await api.http.get("/customers/new-customer/accounts", auth=tenant.auth)

    assert response.status_code == 200
    assert response.json() == []


async def test_accounts_of_an_unknown_customer_answer_404_002(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get(
        "/customers/ghost-customer/accounts", auth=tenant.auth
    )

    assert_envelope(response, 404, "404.002")


# ---- tenancy -------------------------------------------------------------------------


async def test_same_identifiers_may_exist_on_another_platform(
    api: Api, tenant: Tenant
) -> None:
    other = await make_tenant(api.runtime, "globex", funds=Decimal("0"))

    made_customer = await api.http.post(
        "/customers", json=customer(tenant.customer), auth=other.auth
    )
    made_account = await api.http.post(
        f"/customers/{tenant.customer}/accounts",
        json=account(tenant.account),
        auth=other.auth,
    )

    assert made_customer.status_code == 201, made_customer.text
    assert made_account.status_code == 201, made_account.text
    theirs = exact(await api.http.get(f"/accounts/{tenant.account}", auth=other.auth))
    mine = exact(await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth))
    assert theirs["currentBalance"] == Decimal("0")
    assert mine["currentBalance"] == Decimal("10000")
    assert theirs["accountNumber"] != mine["accountNumber"]


# ---- funding -------------------------------------------------------------------------


async def test_funding_changes_the_current_balance_exactly(
    api: Api, tenant: Tenant
) -> None:
    balance = await _fund(api, tenant.platform, tenant.account, Decimal("0.10"))

    assert balance == Decimal("10000.10")
    response = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)
    assert exact(response)["currentBalance"] == Decimal("10000.10")


async def test_many_small_fundings_add_up_exactly(api: Api, tenant: Tenant) -> None:
    await api.http.post(
        f"/customers/{tenant.customer}/accounts", json=account(), auth=tenant.auth
    )
    for _ in range(30):
        await _fund(api, tenant.platform, "new-account", Decimal("0.10"))
    await _fund(api, tenant.platform, "new-account", Decimal("12345678901.23"))

    response = await api.http.get("/accounts/new-account", auth=tenant.auth)

    assert exact(response)["currentBalance"] == Decimal("12345678904.23")
    platform_id = await _platform_id(api, tenant.platform)
    async with api.runtime.database.sessions() as session:
        row, _ = await accounts.get_account(session, platform_id, "new-account")
        totals = await accounts.ledger_totals(session, row.id)
    assert row.balance == Decimal("12345678904.23")
    assert totals.funded == Decimal("12345678904.23")
    assert totals.charged == Decimal("0")
    assert totals.refunded == Decimal("0")
    assert totals.expected_balance == row.balance


async def test_ledger_totals_match_the_balance_after_an_order(
    api: Api, tenant: Tenant
) -> None:
    created = await api.http.post(
        "/asyncOrders",
        json={
            "externalRefID": "order-1",
            "customerIdentifier": tenant.customer,
            "accountIdentifier": tenant.account,
            "lineItems": [
                {
                    "externalRefLineItemID": "line-1",
                    "utid": "U000002",
                    "amount": 12.34,
                    "deliveryMethod": "EMAIL",
                    "recipient": {"firstName": "Ada", "email": "ada@example.com"},
                }
            ],
        },
        auth=tenant.auth,
    )
    assert created.status_code == 202, created.text

    response = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)

    balance = exact(response)["currentBalance"]
    assert balance == Decimal("9987.66")
    platform_id = await _platform_id(api, tenant.platform)
    async with api.runtime.database.sessions() as session:
        row, _ = await accounts.get_account(session, platform_id, tenant.account)
        totals = await accounts.ledger_totals(session, row.id)
    assert totals.funded == Decimal("10000.00")
    assert totals.charged - totals.refunded == Decimal("12.34")
    assert totals.expected_balance == row.balance == balance


async def test_funding_an_unknown_account_raises_not_found(
    api: Api, tenant: Tenant
) -> None:
    platform_id = await _platform_id(api, tenant.platform)
    other = await make_tenant(api.runtime, "globex")

    async with api.runtime.database.sessions() as session:
        with pytest.raises(CustomerOrAccountNotFound):
            await accounts.fund(session, platform_id, "ghost-account", Decimal("1"))
        with pytest.raises(CustomerOrAccountNotFound):
            await accounts.fund(session, platform_id, other.account, Decimal("1"))


async def test_funding_is_visible_in_the_customer_accounts_list(
    api: Api, tenant: Tenant
) -> None:
    await _fund(api, tenant.platform, tenant.account, Decimal("0.01"))

    response = await api.http.get(
        f"/customers/{tenant.customer}/accounts", auth=tenant.auth
    )

    (entry,) = exact(response)
    assert entry["currentBalance"] == Decimal("10000.01")


async def test_the_largest_balance_is_reported_exactly_and_more_is_refused(
    api: Api, tenant: Tenant
) -> None:
    # JSON carries money as numbers, exact up to 15 significant digits, so the
    # balance is capped at MAX_BALANCE; at the cap it still reads back exactly.
    await api.http.post(
        f"/customers/{tenant.customer}/accounts", json=account(), auth=tenant.auth
    )
    stored = await _fund(api, tenant.platform, "new-account", MAX_BALANCE)

    with pytest.raises(ValidationFailed):
        await _fund(api, tenant.platform, "new-account", Decimal("0.01"))
    response = await api.http.get("/accounts/new-account", auth=tenant.auth)

    assert stored == MAX_BALANCE
    assert exact(response)["currentBalance"] == MAX_BALANCE


async def test_concurrent_duplicate_customers_answer_one_201_and_409s(
    api: Api, tenant: Tenant
) -> None:
    answers = await asyncio.gather(
        *(
            api.http.post("/customers", json=customer(), auth=tenant.auth)
            for _ in range(5)
        )
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 409, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert_envelope(answer, 409, "409.001")


async def test_concurrent_duplicate_accounts_answer_one_201_and_409s(
    api: Api, tenant: Tenant
) -> None:
    answers = await asyncio.gather(
        *(
            api.http.post(
                f"/customers/{tenant.customer}/accounts",
                json=account(),
                auth=tenant.auth,
            )
            for _ in range(5)
        )
    )

    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 409, 409, 409, 409], [a.text for a in answers]
    listed = await api.http.get(
        f"/customers/{tenant.customer}/accounts", auth=tenant.auth
    )
    assert [a["accountIdentifier"] for a in listed.json()] == [
        tenant.account,
        "new-account",
    ]
