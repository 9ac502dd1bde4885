"""HTTP Basic authentication and tenancy (contract section 3)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from asyncorders.platforms import keys
from asyncorders.platforms import service as platforms
from asyncorders.platforms.service import TooManyKeys
from asyncorders.storage.tables import ApiKey
from tests.api.test_errors import assert_envelope
from tests.conftest import Api
from tests.factories import Tenant, create_order, make_tenant, order_body

pytestmark = pytest.mark.anyio


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def assert_unauthorized(response: httpx.Response) -> None:
    assert_envelope(response, 401, "401.001")
    challenge = response.headers.get_list("www-authenticate")
    assert len(challenge) == 1, challenge
    assert challenge[0].startswith("Basic")


def _comparable(response: httpx.Response, *identifiers: str) -> dict[str, Any]:
    """What a client can see of an answer, with the request's own ids masked."""
    body: dict[str, Any] = response.json()
    for moving in ("timestamp", "requestId", "path"):
        body.pop(moving)
    message: str = body["message"]
    for identifier in identifiers:
        message = message.replace(identifier, "<id>")
    body["message"] = message
    return {
        "status": response.status_code,
        "body": body,
        "headers": sorted(
            name
            for name in response.headers
            if name not in {"content-length", "x-request-id", "date"}
        ),
    }


async def _issue_second_key(api: Api, platform: str) -> platforms.IssuedKey:
    async with api.runtime.database.sessions() as session:
        issued = await platforms.add_key(session, api.runtime.secret, platform)
        await session.commit()
    return issued


async def _public_ids(api: Api, platform: str) -> list[tuple[str, bool]]:
    async with api.runtime.database.sessions() as session:
        rows = await platforms.list_keys(session, platform)
    return [(row.public_id, row.revoked_at is None) for row in rows]


# ---- refusals ------------------------------------------------------------------------


async def test_no_credentials_answer_401_with_a_basic_challenge(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get("/customers")

    assert_unauthorized(response)


async def test_wrong_key_answers_401(api: Api, tenant: Tenant) -> None:
    response = await api.http.get(
        "/customers", headers=basic(tenant.platform, tenant.key + "x")
    )

    assert_unauthorized(response)


async def test_unknown_platform_answers_401(api: Api, tenant: Tenant) -> None:
    response = await api.http.get("/customers", headers=basic("nobody", tenant.key))

    assert_unauthorized(response)


async def test_unknown_platform_and_wrong_key_answer_alike(
    api: Api, tenant: Tenant
) -> None:
    wrong_key = await api.http.get(
        "/customers", headers=basic(tenant.platform, "not-the-key")
    )
    wrong_name = await api.http.get("/customers", headers=basic("nobody", tenant.key))

    assert _comparable(wrong_key) == _comparable(wrong_name)


@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic ",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":only-a-key").decode(),
        "Basic " + base64.b64encode(b"acme:").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Digest username=acme",
        "acme:key",
    ],
)
async def test_malformed_authorization_header_answers_401(
    api: Api, tenant: Tenant, header: str
) -> None:
    response = await api.http.get("/customers", headers={"Authorization": header})

    assert_unauthorized(response)


@pytest.mark.parametrize(
    "name", ["ac\x00me", "acme\n", " acme", "a" * 101, "ac/me", "<script>"]
)
async def test_a_name_no_platform_can_have_answers_401(
    api: Api, tenant: Tenant, name: str
) -> None:
    response = await api.http.get("/customers", headers=basic(name, tenant.key))

    assert_unauthorized(response)


async def test_bearer_token_answers_401(api: Api, tenant: Tenant) -> None:
    response = await api.http.get(
        "/customers", headers={"Authorization": "Bearer some.jwt.token"}
    )

    assert_unauthorized(response)


async def test_key_of_another_platform_answers_401(api: Api, tenant: Tenant) -> None:
    other = await make_tenant(api.runtime, "globex")

    response = await api.http.get(
        "/customers", headers=basic(tenant.platform, other.key)
    )

    assert_unauthorized(response)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/asyncOrders"),
        ("POST", "/asyncOrders"),
        ("GET", "/asyncOrders/customers/c/accounts/a/r"),
        ("PATCH", "/asyncOrders/customers/c/accounts/a/r"),
        ("GET", "/asyncOrders/customers/c/accounts/a/r/lineItems"),
        ("GET", "/asyncOrders/customers/c/accounts/a/r/history"),
        ("GET", "/customers"),
        ("POST", "/customers"),
        ("GET", "/customers/c"),
        ("POST", "/customers/c/accounts"),
        ("GET", "/customers/c/accounts"),
        ("GET", "/accounts/a"),
        ("GET", "/catalogs"),
    ],
)
async def test_every_endpoint_needs_credentials(
    api: Api, tenant: Tenant, method: str, path: str
) -> None:
    body = {"campaign": "x"} if method in {"POST", "PATCH"} else None

    response = await api.http.request(method, path, json=body)

    assert_unauthorized(response)


async def test_failed_authentication_answers_before_the_body_is_validated(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post(
        "/customers",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert_unauthorized(response)


# ---- keys ----------------------------------------------------------------------------


async def test_two_active_keys_both_work(api: Api, tenant: Tenant) -> None:
    second = await _issue_second_key(api, tenant.platform)

    with_first = await api.http.get("/customers", auth=tenant.auth)
    with_second = await api.http.get(
        "/customers", auth=httpx.BasicAuth(tenant.platform, second.key)
    )

    assert with_first.status_code == 200, with_first.text
    assert with_second.status_code == 200, with_second.text
    assert with_first.json() == with_second.json()


async def test_a_third_key_is_refused(api: Api, tenant: Tenant) -> None:
    await _issue_second_key(api, tenant.platform)

    async with api.runtime.database.sessions() as session:
        with pytest.raises(TooManyKeys):
            await platforms.add_key(session, api.runtime.secret, tenant.platform)

    assert [active for _, active in await _public_ids(api, tenant.platform)] == [
        True,
        True,
    ]


async def test_rotation_revokes_the_oldest_key_when_two_are_active(
    api: Api, tenant: Tenant
) -> None:
    second = await _issue_second_key(api, tenant.platform)
    (oldest, _), _ = await _public_ids(api, tenant.platform)

    async with api.runtime.database.sessions() as session:
        third, revoked = await platforms.rotate_key(
            session, api.runtime.secret, tenant.platform
        )
        await session.commit()

    assert revoked == [oldest]
    first_answer = await api.http.get("/customers", auth=tenant.auth)
    assert_unauthorized(first_answer)
    for key in (second.key, third.key):
        response = await api.http.get(
            "/customers", auth=httpx.BasicAuth(tenant.platform, key)
        )
        assert response.status_code == 200, response.text
    states = dict(await _public_ids(api, tenant.platform))
    assert states == {oldest: False, second.public_id: True, third.public_id: True}


async def test_rotation_with_one_active_key_revokes_nothing(
    api: Api, tenant: Tenant
) -> None:
    async with api.runtime.database.sessions() as session:
        issued, revoked = await platforms.rotate_key(
            session, api.runtime.secret, tenant.platform
        )
        await session.commit()

    assert revoked == []
    for key in (tenant.key, issued.key):
        response = await api.http.get(
            "/customers", auth=httpx.BasicAuth(tenant.platform, key)
        )
        assert response.status_code == 200, response.text


async def test_revoked_key_stops_working_on_the_very_next_request(
    api: Api, tenant: Tenant
) -> None:
    second = await _issue_second_key(api, tenant.platform)
    before = await api.http.get("/customers", auth=tenant.auth)
    assert before.status_code == 200
    (first_id, _), _ = await _public_ids(api, tenant.platform)

    async with api.runtime.database.sessions() as session:
        await platforms.revoke_key(session, tenant.platform, first_id)
        await session.commit()

    after = await api.http.get("/customers", auth=tenant.auth)
    assert_unauthorized(after)
    still = await api.http.get(
        "/customers", auth=httpx.BasicAuth(tenant.platform, second.key)
    )
    assert still.status_code == 200


async def test_revoking_the_only_key_locks_the_platform_out(
    api: Api, tenant: Tenant
) -> None:
    ((only, _),) = await _public_ids(api, tenant.platform)
    async with api.runtime.database.sessions() as session:
        await platforms.revoke_key(session, tenant.platform, only)
        await session.commit()

    response = await api.http.get("/customers", auth=tenant.auth)

    assert_unauthorized(response)


async def test_keys_are_stored_only_as_hashes(api: Api, tenant: Tenant) -> None:
    second = await _issue_second_key(api, tenant.platform)

    async with api.runtime.database.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
        stored = list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))

    dumped = " ".join(str(value) for row in rows for value in row)
    for plain in (tenant.key, second.key):
        assert plain not in dumped
    assert [row.key_hash for row in stored] == [
        keys.hash_key(api.runtime.secret, tenant.key),
        keys.hash_key(api.runtime.secret, second.key),
    ]


# ---- tenancy -------------------------------------------------------------------------


@pytest.fixture
async def other(api: Api, tenant: Tenant) -> Tenant:
    """A second platform with its own customer and account."""
    return await make_tenant(api.runtime, "globex")


async def test_another_platforms_customer_answers_404_like_a_missing_one(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    foreign = await api.http.get(f"/customers/{tenant.customer}", auth=other.auth)
    missing = await api.http.get("/customers/ghost-customer", auth=other.auth)

    assert_envelope(foreign, 404, "404.002")
    assert _comparable(foreign, tenant.customer) == _comparable(
        missing, "ghost-customer"
    )


async def test_another_platforms_customer_accounts_answer_404_like_missing_ones(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    foreign = await api.http.get(
        f"/customers/{tenant.customer}/accounts", auth=other.auth
    )
    missing = await api.http.get("/customers/ghost-customer/accounts", auth=other.auth)

    assert_envelope(foreign, 404, "404.002")
    assert _comparable(foreign, tenant.customer) == _comparable(
        missing, "ghost-customer"
    )


async def test_another_platforms_account_answers_404_like_a_missing_one(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    foreign = await api.http.get(f"/accounts/{tenant.account}", auth=other.auth)
    missing = await api.http.get("/accounts/ghost-account", auth=other.auth)

    assert_envelope(foreign, 404, "404.002")
    assert _comparable(foreign, tenant.account) == _comparable(missing, "ghost-account")


async def test_an_account_cannot_be_added_to_another_platforms_customer(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    body = {
        "accountIdentifier": "sneaky-account",
        "displayName": "Sneaky account",
        "contactEmail": "x@example.com",
    }

    foreign = await api.http.post(
        f"/customers/{tenant.customer}/accounts", json=body, auth=other.auth
    )
    missing = await api.http.post(
        "/customers/ghost-customer/accounts", json=body, auth=other.auth
    )

    assert_envelope(foreign, 404, "404.002")
    assert _comparable(foreign, tenant.customer) == _comparable(
        missing, "ghost-customer"
    )
    mine = await api.http.get(f"/customers/{tenant.customer}", auth=tenant.auth)
    assert [a["accountIdentifier"] for a in mine.json()["accounts"]] == [tenant.account]


@pytest.mark.parametrize("suffix", ["", "/lineItems", "/history"])
async def test_another_platforms_order_answers_404_like_a_missing_one(
    api: Api, tenant: Tenant, other: Tenant, suffix: str
) -> None:
    await create_order(api.http, tenant)
    ghost = "/asyncOrders/customers/ghost-customer/accounts/ghost-account/order-1"

    foreign = await api.http.get(tenant.order_url("order-1") + suffix, auth=other.auth)
    missing = await api.http.get(ghost + suffix, auth=other.auth)

    assert_envelope(foreign, 404, "404.001")
    assert _comparable(
        foreign, tenant.customer, tenant.account, "order-1"
    ) == _comparable(missing, "ghost-customer", "ghost-account", "order-1")


async def test_another_platforms_order_cannot_be_patched(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    await create_order(api.http, tenant, campaign="original")
    ghost = "/asyncOrders/customers/ghost-customer/accounts/ghost-account/order-1"

    foreign = await api.http.patch(
        tenant.order_url("order-1"), json={"campaign": "hijacked"}, auth=other.auth
    )
    missing = await api.http.patch(ghost, json={"campaign": "x"}, auth=other.auth)

    assert_envelope(foreign, 404, "404.001")
    assert _comparable(foreign) == _comparable(missing)
    mine = await api.http.get(tenant.order_url("order-1"), auth=tenant.auth)
    assert mine.json()["campaign"] == "original"
    history = await api.http.get(
        tenant.order_url("order-1") + "/history", auth=tenant.auth
    )
    assert all(
        change["newValue"] != "hijacked"
        for event in history.json()["events"]
        for change in event["changes"]
    )


async def test_an_order_cannot_be_placed_on_another_platforms_account(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    foreign = await api.http.post(
        "/asyncOrders", json=order_body(tenant, "steal-1"), auth=other.auth
    )
    ghost_body = order_body(
        tenant,
        "steal-1",
        customerIdentifier="ghost-customer",
        accountIdentifier="ghost-account",
    )
    missing = await api.http.post("/asyncOrders", json=ghost_body, auth=other.auth)

    assert_envelope(foreign, 404, "404.002")
    assert _comparable(foreign, tenant.customer, tenant.account) == _comparable(
        missing, "ghost-customer", "ghost-account"
    )
    account = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)
    assert account.json()["currentBalance"] == 10000


async def test_listings_never_show_another_platforms_data(
    api: Api, tenant: Tenant, other: Tenant
) -> None:
    await create_order(api.http, tenant)

    customers = await api.http.get("/customers", auth=other.auth)
    orders = await api.http.get("/asyncOrders", auth=other.auth)
    filtered = await api.http.get(
        "/asyncOrders",
        params={
            "accountIdentifier": tenant.account,
            "customerIdentifier": tenant.customer,
            "externalRefID": "order-1",
        },
        auth=other.auth,
    )

    assert [c["customerIdentifier"] for c in customers.json()] == [other.customer]
    assert orders.status_code == 200
    assert orders.json()["orders"] == []
    assert filtered.status_code == 200
    assert filtered.json()["orders"] == []
    mine = await api.http.get("/asyncOrders", auth=tenant.auth)
    assert [o["externalRefID"] for o in mine.json()["orders"]] == ["order-1"]


async def test_the_basic_scheme_name_is_case_insensitive(
    api: Api, tenant: Tenant
) -> None:
    token = basic(tenant.platform, tenant.key)["Authorization"].split(" ", 1)[1]

    response = await api.http.get(
        "/customers", headers={"Authorization": f"bAsIc {token}"}
    )

    assert response.status_code == 200, response.text


async def test_keys_and_credentials_never_appear_in_the_logs(
    api: Api, tenant: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    second = await _issue_second_key(api, tenant.platform)
    good = basic(tenant.platform, tenant.key)
    wrong = basic(tenant.platform, second.key + "typo")

    await api.http.get("/customers", headers=good)
    await api.http.get("/customers", headers=wrong)
    await api.http.get("/customers", headers={"Authorization": "Bearer secret-jwt"})

    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert "request.done" in logs  # the log lines were captured
    for secret in (
        tenant.key,
        second.key,
        good["Authorization"].split(" ", 1)[1],
        wrong["Authorization"].split(" ", 1)[1],
        "secret-jwt",
    ):
        assert secret not in logs
