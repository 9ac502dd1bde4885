"""PATCH of an async order's metadata (CONTRACT.md sections 5 and 7).

Every refusal is checked three ways: the status, the error envelope (its
`httpCode`, `i18nKey`, `requestId` equal to the `X-REQUEST-ID` header, and one
`errors[]` entry per problem) and that nothing was written (the order, its ETag
and its history read the same before and after).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from asyncorders.orders import repository
from asyncorders.platforms import service as platforms
from asyncorders.storage import batches
from tests.conftest import Api
from tests.factories import Tenant, create_order, line, make_tenant

pytestmark = pytest.mark.anyio

REF = "order-1"
FIELDS = ("campaign", "purchaseOrderNumber", "notes")
LIMITS = {"campaign": 1024, "purchaseOrderNumber": 255, "notes": 150}
INITIAL = {"campaign": "spring", "purchaseOrderNumber": "PO-1", "notes": "first"}
UPDATED_VIEW_KEYS = {
    "externalRefID",
    "status",
    "totalLineItems",
    "createdAt",
    "failedLineItems",
    "duplicateLineItemRefIds",
    "referenceOrderID",
    "customerIdentifier",
    "accountIdentifier",
    "orderStatus",
    "campaign",
    "purchaseOrderNumber",
    "notes",
    "completedAt",
}
MULTIPART_BODY = (
    b'--b\r\nContent-Disposition: form-data; name="campaign"\r\n\r\nx\r\n--b--\r\n'
)
ENVELOPE_KEYS = {
    "timestamp",
    "requestId",
    "path",
    "httpCode",
    "httpPhrase",
    "i18nKey",
    "message",
    "errors",
}


# ---- helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What a client can read of an order: its metadata, ETag and history."""

    metadata: dict[str, Any]
    etag: str
    event_ids: list[str]


async def given_order(api: Api, tenant: Tenant, ref: str = REF) -> dict[str, Any]:
    """An order with known metadata in every editable field."""
    return await create_order(api.http, tenant, ref, **INITIAL)


async def patch(
    api: Api,
    tenant: Tenant,
    body: Any,
    *,
    ref: str = REF,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await api.http.patch(
        tenant.order_url(ref), json=body, auth=tenant.auth, headers=headers
    )


async def patch_raw(
    api: Api,
    tenant: Tenant,
    content: bytes,
    content_type: str | None = "application/json",
    *,
    ref: str = REF,
) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return await api.http.patch(
        tenant.order_url(ref), content=content, auth=tenant.auth, headers=headers
    )


async def get_order(api: Api, tenant: Tenant, ref: str = REF) -> httpx.Response:
    response = await api.http.get(tenant.order_url(ref), auth=tenant.auth)
    assert response.status_code == 200, response.text
    return response


async def history(api: Api, tenant: Tenant, ref: str = REF) -> list[dict[str, Any]]:
    """Every event of the order, newest first."""
    response = await api.http.get(
        tenant.order_url(ref) + "/history",
        params={"maxResults": 200},
        auth=tenant.auth,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"]["nextPageAvailable"] is False
    events: list[dict[str, Any]] = body["events"]
    return events


async def snapshot(api: Api, tenant: Tenant, ref: str = REF) -> Snapshot:
    order = await get_order(api, tenant, ref)
    events = await history(api, tenant, ref)
    return Snapshot(
        metadata={field: order.json()[field] for field in FIELDS},
        etag=order.headers["ETag"],
        event_ids=[event["eventId"] for event in events],
    )


def metadata_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == "METADATA_UPDATED"]


def assert_error(
    response: httpx.Response,
    status: int,
    i18n_key: str,
    paths: list[str] | None = None,
) -> dict[str, Any]:
    """The contract's envelope, with one errors[] entry per expected path."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE_KEYS, body
    assert body["httpCode"] == status
    assert body["i18nKey"] == i18n_key
    assert body["requestId"] == response.headers["X-REQUEST-ID"]
    assert body["path"] == response.request.url.path
    assert body["message"]
    if paths is not None:
        assert sorted(item["path"] for item in body["errors"]) == sorted(paths)
        for item in body["errors"]:
            key = item["i18nKey"]
            assert item["code"] == int(key.replace(".", "")), item
            assert item["message"], item
    return body


def error_for(body: dict[str, Any], path: str) -> dict[str, Any]:
    matching: list[dict[str, Any]] = [
        item for item in body["errors"] if item["path"] == path
    ]
    assert len(matching) == 1, body
    return matching[0]


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def active_key_ids(api: Api, platform: str) -> set[str]:
    async with api.runtime.database.sessions() as session:
        rows = await platforms.list_keys(session, platform)
        return {row.public_id for row in rows if row.revoked_at is None}


# ---- length limits -------------------------------------------------------------------


async def assert_accepted_at_limit(api: Api, tenant: Tenant, field: str) -> None:
    await given_order(api, tenant)
    value = "x" * LIMITS[field]

    response = await patch(api, tenant, {field: value})

    assert response.status_code == 200, response.text
    assert response.json()[field] == value
    assert (await get_order(api, tenant)).json()[field] == value
    [latest] = metadata_events(await history(api, tenant))
    assert latest["changes"] == [
        {"field": field, "oldValue": INITIAL[field], "newValue": value}
    ]


async def assert_refused_over_limit(api: Api, tenant: Tenant, field: str) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    value = "x" * (LIMITS[field] + 1)

    response = await patch(api, tenant, {field: value})

    body = assert_error(response, 400, "400.002", [field])
    item = error_for(body, field)
    assert item["i18nKey"] == "400.002"
    assert item["constraint"] == "Size"
    assert await snapshot(api, tenant) == before


async def test_notes_of_150_characters_is_accepted_and_recorded(
    api: Api, tenant: Tenant
) -> None:
    await assert_accepted_at_limit(api, tenant, "notes")


async def test_notes_of_151_characters_is_refused_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await assert_refused_over_limit(api, tenant, "notes")


async def test_campaign_of_1024_characters_is_accepted_and_recorded(
    api: Api, tenant: Tenant
) -> None:
    await assert_accepted_at_limit(api, tenant, "campaign")


async def test_campaign_of_1025_characters_is_refused_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await assert_refused_over_limit(api, tenant, "campaign")


async def test_purchase_order_number_of_255_characters_is_accepted_and_recorded(
    api: Api, tenant: Tenant
) -> None:
    await assert_accepted_at_limit(api, tenant, "purchaseOrderNumber")


async def test_purchase_order_number_of_256_chars_is_refused_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await assert_refused_over_limit(api, tenant, "purchaseOrderNumber")


async def test_notes_of_150_non_ascii_characters_is_accepted_as_150_characters(
    api: Api, tenant: Tenant
) -> None:
    # Limits count characters, not bytes: 150 emoji are 600 bytes of UTF-8.
    await given_order(api, tenant)
    value = "\N{GRINNING FACE}é" * 75

    response = await patch(api, tenant, {"notes": value})

    assert response.status_code == 200, response.text
    assert (await get_order(api, tenant)).json()["notes"] == value


@pytest.mark.parametrize("field", FIELDS)
async def test_value_containing_a_nul_character_is_stored_or_refused_never_a_500(
    api: Api, tenant: Tenant, field: str
) -> None:
    # "\u0000" is a valid JSON string. The contract allows either storing it
    # (and reading it back unchanged) or refusing it as 400.002, but a 500 is a
    # bug (section 7), and so is a difference between what is answered and
    # what is stored.
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    value = "a\u0000b"

    response = await patch(api, tenant, {field: value})

    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        body = assert_error(response, 400, "400.002", [field])
        assert error_for(body, field)["i18nKey"] == "400.002"
        assert await snapshot(api, tenant) == before
    else:
        assert response.json()[field] == value
        assert (await get_order(api, tenant)).json()[field] == value
        [event] = metadata_events(await history(api, tenant))
        assert event["changes"][0]["newValue"] == value


# ---- body shape problems -------------------------------------------------------------


async def test_empty_object_is_refused_with_400_004_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, {})

    assert_error(response, 400, "400.004")
    assert await snapshot(api, tenant) == before


async def test_unknown_member_is_refused_as_not_a_known_field_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, {"foo": "bar"})

    body = assert_error(response, 400, "400.003", ["foo"])
    item = error_for(body, "foo")
    assert item["i18nKey"] == "400.003"
    assert "not a known field" in item["message"]
    assert await snapshot(api, tenant) == before


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("lineItems", [line()]),
        ("amount", 10),
        ("externalRefID", "order-2"),
        ("customerIdentifier", "someone-else"),
        ("accountIdentifier", "another-account"),
    ],
)
async def test_immutable_member_is_refused_as_not_updatable_and_nothing_is_written(
    api: Api, tenant: Tenant, member: str, value: Any
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, {member: value})

    body = assert_error(response, 400, "400.003", [member])
    item = error_for(body, member)
    assert item["i18nKey"] == "400.003"
    assert "not updatable" in item["message"]
    assert await snapshot(api, tenant) == before


async def test_body_with_two_problems_yields_two_error_entries_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(
        api, tenant, {"notes": "x" * 151, "foo": 1, "campaign": "valid"}
    )

    body = assert_error(response, 400, body_key(response), ["notes", "foo"])
    assert error_for(body, "notes")["i18nKey"] == "400.002"
    assert error_for(body, "foo")["i18nKey"] == "400.003"
    assert await snapshot(api, tenant) == before


def body_key(response: httpx.Response) -> str:
    """The top-level key of a mixed refusal is one of its entries' keys."""
    body: dict[str, Any] = response.json()
    keys = {item["i18nKey"] for item in body.get("errors", [])}
    assert body.get("i18nKey") in keys, body
    return str(body["i18nKey"])


async def test_valid_member_beside_an_unknown_one_is_not_applied(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, {"campaign": "changed", "status": "COMPLETE"})

    body = assert_error(response, 400, "400.003", ["status"])
    assert "not updatable" in error_for(body, "status")["message"]
    assert await snapshot(api, tenant) == before


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(
    "value",
    [42, 1.5, ["a"], {"a": "b"}, True],
    ids=["number", "decimal", "list", "object", "boolean"],
)
async def test_wrong_type_for_a_string_field_is_refused_with_400_002(
    api: Api, tenant: Tenant, field: str, value: Any
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, {field: value})

    body = assert_error(response, 400, "400.002", [field])
    assert error_for(body, field)["i18nKey"] == "400.002"
    assert await snapshot(api, tenant) == before


# ---- merge-patch semantics ----------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
async def test_null_clears_the_field_and_history_shows_old_to_null(
    api: Api, tenant: Tenant, field: str
) -> None:
    await given_order(api, tenant)

    response = await patch(api, tenant, {field: None})

    assert response.status_code == 200, response.text
    assert response.json()[field] is None
    order = (await get_order(api, tenant)).json()
    assert order[field] is None
    for other in FIELDS:
        if other != field:
            assert order[other] == INITIAL[other]
    [event] = metadata_events(await history(api, tenant))
    assert event["changes"] == [
        {"field": field, "oldValue": INITIAL[field], "newValue": None}
    ]


@pytest.mark.parametrize("field", FIELDS)
async def test_empty_string_sets_the_field_to_an_empty_string_not_null(
    api: Api, tenant: Tenant, field: str
) -> None:
    await given_order(api, tenant)

    response = await patch(api, tenant, {field: ""})

    assert response.status_code == 200, response.text
    assert response.json()[field] == ""
    assert (await get_order(api, tenant)).json()[field] == ""
    [event] = metadata_events(await history(api, tenant))
    assert event["changes"] == [
        {"field": field, "oldValue": INITIAL[field], "newValue": ""}
    ]


async def test_null_on_a_field_that_is_already_null_changes_nothing(
    api: Api, tenant: Tenant
) -> None:
    await create_order(api.http, tenant, REF)  # no metadata at all
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, {"notes": None})

    assert response.status_code == 200, response.text
    assert await snapshot(api, tenant) == before


async def test_absent_members_stay_unchanged(api: Api, tenant: Tenant) -> None:
    await given_order(api, tenant)

    response = await patch(api, tenant, {"notes": "second"})

    assert response.status_code == 200, response.text
    expected = {**INITIAL, "notes": "second"}
    assert {field: response.json()[field] for field in FIELDS} == expected
    order = (await get_order(api, tenant)).json()
    assert {field: order[field] for field in FIELDS} == expected


async def test_patch_answers_the_updated_shape_without_line_items(
    api: Api, tenant: Tenant
) -> None:
    created = await given_order(api, tenant)

    response = await patch(api, tenant, {"campaign": "autumn"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == UPDATED_VIEW_KEYS
    assert body["externalRefID"] == REF
    assert body["referenceOrderID"] == created["referenceOrderID"]
    assert body["customerIdentifier"] == tenant.customer
    assert body["accountIdentifier"] == tenant.account
    assert body["totalLineItems"] == 1
    assert body["campaign"] == "autumn"


# ---- not JSON, not an object, not JSON media -----------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"[]", b'"x"', b"42", b"null", b"true", b'[{"campaign": "x"}]'],
    ids=["list", "string", "number", "null", "boolean", "list-of-object"],
)
async def test_non_object_json_body_is_refused_with_400_001_and_nothing_is_written(
    api: Api, tenant: Tenant, content: bytes
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch_raw(api, tenant, content)

    assert_error(response, 400, "400.001")
    assert await snapshot(api, tenant) == before


@pytest.mark.parametrize(
    "content",
    [b'{"campaign": ', b"{'campaign': 'x'}", b'{"campaign": "x",}', b"not json"],
    ids=["truncated", "single-quotes", "trailing-comma", "text"],
)
async def test_malformed_json_is_refused_with_400_001_and_nothing_is_written(
    api: Api, tenant: Tenant, content: bytes
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch_raw(api, tenant, content)

    assert_error(response, 400, "400.001")
    assert await snapshot(api, tenant) == before


async def test_no_body_at_all_is_refused_with_400_001_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await api.http.patch(tenant.order_url(REF), auth=tenant.auth)

    assert_error(response, 400, "400.001")
    assert await snapshot(api, tenant) == before


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b'{"campaign": "x"}'),
        ("application/x-www-form-urlencoded", b"campaign=x"),
        ("multipart/form-data; boundary=b", MULTIPART_BODY),
    ],
    ids=["text-plain", "form-urlencoded", "multipart"],
)
async def test_wrong_media_type_is_refused_with_415_and_nothing_is_written(
    api: Api, tenant: Tenant, content_type: str, content: bytes
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch_raw(api, tenant, content, content_type)

    assert_error(response, 415, "415.001")
    assert await snapshot(api, tenant) == before


async def test_json_body_without_content_type_is_refused_with_415(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch_raw(api, tenant, b'{"campaign": "x"}', None)

    assert_error(response, 415, "415.001")
    assert await snapshot(api, tenant) == before


async def test_merge_patch_json_media_type_is_accepted(
    api: Api, tenant: Tenant
) -> None:
    # RFC 7396 names application/merge-patch+json for exactly this body.
    await given_order(api, tenant)

    response = await patch_raw(
        api, tenant, b'{"campaign": "x"}', "application/merge-patch+json"
    )

    assert response.status_code == 200, response.text
    assert (await get_order(api, tenant)).json()["campaign"] == "x"


async def test_json_media_type_with_charset_is_accepted(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)

    response = await patch_raw(
        api, tenant, b'{"campaign": "x"}', "application/json; charset=utf-8"
    )

    assert response.status_code == 200, response.text
    assert (await get_order(api, tenant)).json()["campaign"] == "x"


# ---- which order: tenancy and path ---------------------------------------------------


async def test_order_that_does_not_exist_answers_404_001(
    api: Api, tenant: Tenant
) -> None:
    response = await patch(api, tenant, {"campaign": "x"}, ref="no-such-order")

    assert_error(response, 404, "404.001")


async def test_another_platforms_order_answers_404_exactly_like_a_missing_one(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    other = await make_tenant(api.runtime, "other")
    intruder = Tenant(other.platform, other.key, tenant.customer, tenant.account)

    foreign = await patch(api, intruder, {"campaign": "stolen"})
    missing = await patch(api, intruder, {"campaign": "stolen"}, ref="no-such-order")

    foreign_body = assert_error(foreign, 404, "404.001")
    missing_body = assert_error(missing, 404, "404.001")
    assert foreign_body["message"] == missing_body["message"]
    assert foreign_body["errors"] == missing_body["errors"]
    assert set(foreign.headers) == set(missing.headers)
    assert await snapshot(api, tenant) == before


async def test_another_platforms_order_with_if_match_still_answers_404(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    other = await make_tenant(api.runtime, "other")
    intruder = Tenant(other.platform, other.key, tenant.customer, tenant.account)

    response = await patch(
        api, intruder, {"campaign": "stolen"}, headers={"If-Match": before.etag}
    )

    assert_error(response, 404, "404.001")
    assert await snapshot(api, tenant) == before


async def test_mismatched_customer_in_the_path_answers_404(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    wrong = Tenant(tenant.platform, tenant.key, "other-customer", tenant.account)

    response = await patch(api, wrong, {"campaign": "x"})

    assert_error(response, 404, "404.001")
    assert await snapshot(api, tenant) == before


async def test_mismatched_account_in_the_path_answers_404(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    wrong = Tenant(tenant.platform, tenant.key, tenant.customer, "other-account")

    response = await patch(api, wrong, {"campaign": "x"})

    assert_error(response, 404, "404.001")
    assert await snapshot(api, tenant) == before


# ---- authentication ------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "wrong-key",
        "unknown-platform",
        "Bearer abc",
        "Basic !!not-base64!!",
    ],
    ids=["missing", "wrong-key", "unknown-platform", "bearer", "garbled"],
)
async def test_missing_or_wrong_credentials_answer_401_with_www_authenticate(
    api: Api, tenant: Tenant, authorization: str | None
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)
    auth = httpx.Auth()  # sends no credentials
    headers: dict[str, str] = {}
    if authorization == "wrong-key":
        auth = httpx.BasicAuth(tenant.platform, "not-the-key")
    elif authorization == "unknown-platform":
        auth = httpx.BasicAuth("nobody", tenant.key)
    elif authorization is not None:
        headers["Authorization"] = authorization

    response = await api.http.patch(
        tenant.order_url(REF), json={"campaign": "x"}, auth=auth, headers=headers
    )

    assert_error(response, 401, "401.001")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert await snapshot(api, tenant) == before


# ---- ETag and If-Match ---------------------------------------------------------------


def assert_strong(etag: str) -> None:
    assert not etag.startswith("W/"), etag
    assert len(etag) > 2
    assert etag.startswith('"')
    assert etag.endswith('"')


async def test_get_and_patch_return_the_same_strong_etag(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)

    patched = await patch(api, tenant, {"campaign": "autumn"})
    got = await get_order(api, tenant)

    assert patched.status_code == 200, patched.text
    assert_strong(patched.headers["ETag"])
    assert_strong(got.headers["ETag"])
    assert patched.headers["ETag"] == got.headers["ETag"]


async def test_etag_changes_after_an_effective_patch(api: Api, tenant: Tenant) -> None:
    await given_order(api, tenant)
    first = (await get_order(api, tenant)).headers["ETag"]

    response = await patch(api, tenant, {"campaign": "autumn"})

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] != first
    assert (await get_order(api, tenant)).headers["ETag"] == response.headers["ETag"]


async def test_etag_stays_the_same_after_a_no_op_patch(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    first = (await get_order(api, tenant)).headers["ETag"]

    response = await patch(api, tenant, {"campaign": INITIAL["campaign"]})

    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == first
    assert (await get_order(api, tenant)).headers["ETag"] == first


async def test_if_match_with_the_current_etag_is_applied(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    current = (await get_order(api, tenant)).headers["ETag"]

    response = await patch(
        api, tenant, {"campaign": "autumn"}, headers={"If-Match": current}
    )

    assert response.status_code == 200, response.text
    assert (await get_order(api, tenant)).json()["campaign"] == "autumn"


async def test_if_match_with_a_stale_etag_answers_412_and_nothing_is_written(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    stale = (await get_order(api, tenant)).headers["ETag"]
    assert (await patch(api, tenant, {"campaign": "autumn"})).status_code == 200
    before = await snapshot(api, tenant)

    response = await patch(
        api, tenant, {"campaign": "winter"}, headers={"If-Match": stale}
    )

    assert_error(response, 412, "412.001")
    assert await snapshot(api, tenant) == before
    assert response.headers["ETag"] == (await get_order(api, tenant)).headers["ETag"]


async def test_if_match_star_is_applied(api: Api, tenant: Tenant) -> None:
    await given_order(api, tenant)

    response = await patch(
        api, tenant, {"campaign": "autumn"}, headers={"If-Match": "*"}
    )

    assert response.status_code == 200, response.text
    assert (await get_order(api, tenant)).json()["campaign"] == "autumn"


async def test_if_match_list_containing_the_current_etag_is_applied(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    current = (await get_order(api, tenant)).headers["ETag"]

    response = await patch(
        api,
        tenant,
        {"campaign": "autumn"},
        headers={"If-Match": f'"something-else", {current}'},
    )

    assert response.status_code == 200, response.text


async def test_if_match_with_the_weak_form_of_the_current_etag_answers_412(
    api: Api, tenant: Tenant
) -> None:
    # RFC 9110 13.1.1: If-Match compares strongly, so a weak tag never matches.
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(
        api, tenant, {"campaign": "autumn"}, headers={"If-Match": f"W/{before.etag}"}
    )

    assert_error(response, 412, "412.001")
    assert await snapshot(api, tenant) == before


# ---- the audit trail -----------------------------------------------------------------


async def test_no_op_patch_writes_no_history_event_and_still_answers_200(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    before = await snapshot(api, tenant)

    response = await patch(api, tenant, dict(INITIAL))

    assert response.status_code == 200, response.text
    assert {field: response.json()[field] for field in FIELDS} == INITIAL
    assert await snapshot(api, tenant) == before


async def test_no_op_patch_with_a_stale_if_match_still_answers_412(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    stale = (await get_order(api, tenant)).headers["ETag"]
    assert (await patch(api, tenant, {"campaign": "autumn"})).status_code == 200
    before = await snapshot(api, tenant)

    response = await patch(
        api, tenant, {"campaign": "autumn"}, headers={"If-Match": stale}
    )

    assert_error(response, 412, "412.001")
    assert await snapshot(api, tenant) == before


async def test_effective_patch_writes_exactly_one_event_with_who_when_and_request_id(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    events_before = await history(api, tenant)
    started = datetime.now(UTC)

    response = await patch(api, tenant, {"campaign": "autumn", "notes": None})

    finished = datetime.now(UTC)
    assert response.status_code == 200, response.text
    events = await history(api, tenant)
    assert len(events) == len(events_before) + 1
    event = events[0]
    assert event["type"] == "METADATA_UPDATED"
    assert started <= parse_time(event["occurredAt"]) <= finished
    assert event["platformName"] == tenant.platform
    assert event["apiKeyId"] in await active_key_ids(api, tenant.platform)
    assert event["requestId"] == response.headers["X-REQUEST-ID"]
    assert sorted(event["changes"], key=lambda change: change["field"]) == [
        {"field": "campaign", "oldValue": "spring", "newValue": "autumn"},
        {"field": "notes", "oldValue": "first", "newValue": None},
    ]


async def test_only_changed_fields_are_listed_in_the_event(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)

    response = await patch(
        api,
        tenant,
        {
            "campaign": INITIAL["campaign"],
            "purchaseOrderNumber": "PO-2",
            "notes": INITIAL["notes"],
        },
    )

    assert response.status_code == 200, response.text
    [event] = metadata_events(await history(api, tenant))
    assert event["changes"] == [
        {"field": "purchaseOrderNumber", "oldValue": "PO-1", "newValue": "PO-2"}
    ]


async def test_client_sent_request_id_is_echoed_and_recorded(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    request_id = "client-req-0001.retry:2"

    response = await patch(
        api, tenant, {"campaign": "autumn"}, headers={"X-REQUEST-ID": request_id}
    )

    assert response.status_code == 200, response.text
    assert response.headers["X-REQUEST-ID"] == request_id
    [event] = metadata_events(await history(api, tenant))
    assert event["requestId"] == request_id


async def test_client_sent_request_id_is_echoed_in_an_error_envelope(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    request_id = "client-req-0002"

    response = await patch(
        api, tenant, {"notes": "x" * 151}, headers={"X-REQUEST-ID": request_id}
    )

    body = assert_error(response, 400, "400.002", ["notes"])
    assert body["requestId"] == request_id


async def test_malformed_client_request_id_is_replaced_by_a_generated_one(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    sent = "bad id with spaces <script>"

    response = await patch(
        api, tenant, {"campaign": "autumn"}, headers={"X-REQUEST-ID": sent}
    )

    assert response.status_code == 200, response.text
    echoed = response.headers["X-REQUEST-ID"]
    assert echoed != sent
    assert echoed
    [event] = metadata_events(await history(api, tenant))
    assert event["requestId"] == echoed


async def test_order_created_event_records_initial_metadata(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)

    [event] = await history(api, tenant)

    assert event["type"] == "ORDER_CREATED"
    new_values = {change["field"]: change["newValue"] for change in event["changes"]}
    assert {field: new_values[field] for field in FIELDS} == INITIAL


# ---- every status --------------------------------------------------------------------


async def test_metadata_of_an_order_failed_at_creation_can_be_patched(
    api: Api, tenant: Tenant
) -> None:
    created = await create_order(
        api.http, tenant, REF, lineItems=[line(utid="U000099")], **INITIAL
    )
    assert created["status"] == "FAILED"

    response = await patch(api, tenant, {"campaign": "after-failure", "notes": None})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["orderStatus"] == "FAILED"
    assert body["campaign"] == "after-failure"
    assert body["notes"] is None
    order = (await get_order(api, tenant)).json()
    assert order["orderStatus"] == "FAILED"
    assert order["campaign"] == "after-failure"
    [event] = metadata_events(await history(api, tenant))
    assert len(event["changes"]) == 2


# ---- concurrency ---------------------------------------------------------------------


async def test_twenty_concurrent_patches_all_succeed_and_their_history_chains(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    campaigns = [f"campaign-{n:02d}" for n in range(20)]

    responses = await asyncio.gather(
        *(patch(api, tenant, {"campaign": campaign}) for campaign in campaigns)
    )

    for response in responses:
        assert response.status_code == 200, response.text
    set_by_request = {
        response.headers["X-REQUEST-ID"]: campaign
        for response, campaign in zip(responses, campaigns, strict=True)
    }
    events = metadata_events(await history(api, tenant))
    assert len(events) == 20
    oldest_first = list(reversed(events))
    previous = INITIAL["campaign"]
    for event in oldest_first:
        [change] = event["changes"]
        assert change["field"] == "campaign"
        assert change["oldValue"] == previous
        assert change["newValue"] == set_by_request[event["requestId"]]
        previous = change["newValue"]
    assert sorted(set_by_request) == sorted(event["requestId"] for event in events)
    order = await get_order(api, tenant)
    assert order.json()["campaign"] == events[0]["changes"][0]["newValue"]


async def test_concurrent_patches_with_the_same_if_match_let_exactly_one_win(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    current = (await get_order(api, tenant)).headers["ETag"]

    responses = await asyncio.gather(
        *(
            patch(api, tenant, {"campaign": f"c-{n}"}, headers={"If-Match": current})
            for n in range(8)
        )
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * 7, [r.text for r in responses]
    assert len(metadata_events(await history(api, tenant))) == 1


async def test_concurrent_patches_of_a_missing_order_fail_alone(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)

    responses = await asyncio.gather(
        *(
            api.http.patch(
                tenant.order_url("no-such-order" if n % 2 else REF),
                json={"campaign": f"c-{n}"},
                auth=tenant.auth,
            )
            for n in range(10)
        )
    )

    statuses = [response.status_code for response in responses]
    assert statuses == [200, 404] * 5, [r.text for r in responses]
    assert len(metadata_events(await history(api, tenant))) == 5


async def test_a_burst_larger_than_one_batch_is_committed_in_batches_of_at_most_256(
    api: Api, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with api.runtime.database.sessions() as session:
        await platforms.set_rate_limit(session, tenant.platform, 1e6, 10**6)
        await session.commit()
    refs = [f"burst-{n}" for n in range(4)]
    for ref in refs:
        await given_order(api, tenant, ref)
    sizes: list[int] = []
    find_many = repository.find_many

    async def recording(session: Any, wanted: Any) -> Any:
        sizes.append(len(wanted))
        return await find_many(session, wanted)

    monkeypatch.setattr(repository, "find_many", recording)
    responses = await asyncio.gather(
        *(
            patch(api, tenant, {"notes": f"note {n}"}, ref=refs[n % 4])
            for n in range(batches.MAX_KEYS + 44)
        )
    )

    assert [r.status_code for r in responses] == [200] * len(responses)
    assert max(sizes) == batches.MAX_KEYS
    assert sum(sizes) == len(responses)
    for ref in refs:
        events = metadata_events(await history(api, tenant, ref))
        assert len(events) == len(responses) // 4


# ---- history pages -------------------------------------------------------------------


async def history_page(api: Api, tenant: Tenant, **params: str | int) -> dict[str, Any]:
    response = await api.http.get(
        tenant.order_url(REF) + "/history", params=params, auth=tenant.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def given_order_with_seven_patches(api: Api, tenant: Tenant) -> None:
    await given_order(api, tenant)
    for n in range(7):
        response = await patch(api, tenant, {"notes": f"note {n}"})
        assert response.status_code == 200, response.text


async def test_history_walked_with_next_cursor_gives_every_event_newest_first_once(
    api: Api, tenant: Tenant
) -> None:
    await given_order_with_seven_patches(api, tenant)
    everything = [event["eventId"] for event in await history(api, tenant)]
    assert len(everything) == 8

    seen: list[str] = []
    sizes: list[int] = []
    page = await history_page(api, tenant, maxResults=3)
    assert page["pagination"]["prevPageAvailable"] is False
    while True:
        sizes.append(len(page["events"]))
        seen += [event["eventId"] for event in page["events"]]
        assert page["pagination"]["numberOfElements"] == len(page["events"])
        cursor = page["pagination"]["nextCursor"]
        if cursor is None:
            assert page["pagination"]["nextPageAvailable"] is False
            break
        assert page["pagination"]["nextPageAvailable"] is True
        page = await history_page(api, tenant, maxResults=3, nextCursor=cursor)

    assert sizes == [3, 3, 2]
    assert seen == everything
    assert len(set(seen)) == len(seen)
    times = [parse_time(event["occurredAt"]) for event in await history(api, tenant)]
    assert times == sorted(times, reverse=True)
    assert (await history(api, tenant))[-1]["type"] == "ORDER_CREATED"


async def test_history_walked_back_with_prev_cursor_gives_the_same_pages(
    api: Api, tenant: Tenant
) -> None:
    await given_order_with_seven_patches(api, tenant)
    forward: list[list[str]] = []
    page = await history_page(api, tenant, maxResults=3)
    forward.append([event["eventId"] for event in page["events"]])
    while page["pagination"]["nextCursor"] is not None:
        page = await history_page(
            api, tenant, maxResults=3, nextCursor=page["pagination"]["nextCursor"]
        )
        forward.append([event["eventId"] for event in page["events"]])

    backward: list[list[str]] = [[event["eventId"] for event in page["events"]]]
    while page["pagination"]["prevCursor"] is not None:
        assert page["pagination"]["prevPageAvailable"] is True
        page = await history_page(
            api, tenant, maxResults=3, prevCursor=page["pagination"]["prevCursor"]
        )
        backward.append([event["eventId"] for event in page["events"]])

    assert page["pagination"]["prevPageAvailable"] is False
    assert list(reversed(backward)) == forward


@pytest.mark.parametrize("max_results", [0, 201])
async def test_history_max_results_out_of_range_is_refused_with_400(
    api: Api, tenant: Tenant, max_results: int
) -> None:
    await given_order(api, tenant)

    response = await api.http.get(
        tenant.order_url(REF) + "/history",
        params={"maxResults": max_results},
        auth=tenant.auth,
    )

    body = assert_error(response, 400, "400.002", ["maxResults"])
    assert error_for(body, "maxResults")["i18nKey"] == "400.002"


@pytest.mark.parametrize(
    ("parameter", "cursor"),
    [
        ("nextCursor", "garbage"),
        ("prevCursor", "garbage"),
        ("nextCursor", "eyJ4IjoxfQ"),  # base64 of {"x":1}
        ("nextCursor", "WyJuIixbImEiXV0"),  # ["n",["a"]]: a key of the wrong type
        ("prevCursor", "WyJuIixbMV1d"),  # ["n",[1]]: a next cursor sent as prev
    ],
    ids=["next-garbage", "prev-garbage", "not-a-list", "wrong-key-type", "swapped"],
)
async def test_history_garbage_cursor_is_refused_with_400(
    api: Api, tenant: Tenant, parameter: str, cursor: str
) -> None:
    await given_order(api, tenant)

    response = await api.http.get(
        tenant.order_url(REF) + "/history",
        params={parameter: cursor},
        auth=tenant.auth,
    )

    assert_error(response, 400, "400.002", [parameter])


async def test_history_of_another_platforms_order_answers_404(
    api: Api, tenant: Tenant
) -> None:
    await given_order(api, tenant)
    other = await make_tenant(api.runtime, "other")
    intruder = Tenant(other.platform, other.key, tenant.customer, tenant.account)

    response = await api.http.get(
        intruder.order_url(REF) + "/history", auth=intruder.auth
    )

    assert_error(response, 404, "404.001")
