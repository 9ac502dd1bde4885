"""The error envelope and the outer layer of every request (contract sections 2, 7).

Every non-2xx answer carries the envelope, and every answer exactly one
`X-REQUEST-ID` header equal to the envelope's `requestId`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from asyncorders.api.app import create_app
from asyncorders.api.deps import Runtime
from asyncorders.settings import Settings
from tests.conftest import Api
from tests.factories import Tenant, order_body

pytestmark = pytest.mark.anyio

PREFIX = "/raas/v2"
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
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SMALL_LIMIT = 2048


def assert_envelope(
    response: httpx.Response,
    status: int,
    i18n_key: str,
    *,
    path: str | None = None,
) -> dict[str, Any]:
    """Check the section 7 envelope of an error answer and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE_KEYS, body
    assert body["httpCode"] == status
    assert body["httpPhrase"] == response.reason_phrase
    assert body["i18nKey"] == i18n_key
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["errors"], list)
    ids = response.headers.get_list("x-request-id")
    assert len(ids) == 1, ids
    assert body["requestId"] == ids[0]
    expected_path = path if path is not None else response.request.url.path
    assert body["path"] == expected_path
    assert TIMESTAMP.match(body["timestamp"]), body["timestamp"]
    stamped = datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=UTC
    )
    assert abs(datetime.now(UTC) - stamped) < timedelta(minutes=1)
    return body


@asynccontextmanager
async def client_with(api: Api, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on a new app over the same database, with some settings changed."""
    settings = Settings(**{**api.settings.model_dump(), **overrides})
    app = create_app(settings)
    app.state.runtime = Runtime(settings, api.runtime.database, api.runtime.secret)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://testserver{PREFIX}"
    ) as http:
        yield http


def customer_body(identifier: str = "new-customer", **extra: Any) -> dict[str, Any]:
    return {"customerIdentifier": identifier, "displayName": "New customer", **extra}


# ---- unknown routes and methods ------------------------------------------------------


async def test_unknown_route_answers_404_with_the_envelope(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get("/noSuchThing", auth=tenant.auth)

    body = assert_envelope(response, 404, "404.003")
    assert body["path"] == f"{PREFIX}/noSuchThing"
    assert body["errors"] == []


async def test_unknown_route_without_credentials_answers_404_with_the_envelope(
    api: Api,
) -> None:
    response = await api.http.get("/noSuchThing")

    assert_envelope(response, 404, "404.003")


async def test_route_outside_the_prefix_answers_404_with_the_envelope(
    api: Api,
) -> None:
    response = await api.http.get("http://testserver/asyncOrders")

    assert_envelope(response, 404, "404.003", path="/asyncOrders")


async def test_wrong_method_answers_405_with_the_envelope(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.delete("/customers", auth=tenant.auth)

    body = assert_envelope(response, 405, "405.001")
    assert body["path"] == f"{PREFIX}/customers"


async def test_wrong_method_answer_names_the_allowed_methods(
    api: Api, tenant: Tenant
) -> None:
    # RFC 9110 section 15.5.6: a 405 answer MUST carry an Allow header.
    response = await api.http.put("/customers", json={}, auth=tenant.auth)

    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers.get("allow", "").split(",")}
    assert {"GET", "POST"} <= allowed


# ---- query validation ----------------------------------------------------------------


async def test_query_parameter_of_the_wrong_type_answers_400_naming_it(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get(
        "/asyncOrders", params={"maxResults": "abc"}, auth=tenant.auth
    )

    body = assert_envelope(response, 400, "400.002")
    assert len(body["errors"]) == 1
    (problem,) = body["errors"]
    assert problem["path"] == "maxResults"
    assert problem["code"] == 400002
    assert problem["i18nKey"] == "400.002"
    assert problem["invalidValue"] == "abc"
    assert problem["message"]


async def test_query_parameter_out_of_range_answers_400_with_one_entry_each(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get(
        "/asyncOrders",
        params={"maxResults": "0", "orderStatus": "NOPE"},
        auth=tenant.auth,
    )

    body = assert_envelope(response, 400, "400.002")
    paths = sorted(problem["path"] for problem in body["errors"])
    assert paths == ["maxResults", "orderStatus"]
    by_path = {problem["path"]: problem for problem in body["errors"]}
    assert by_path["maxResults"]["constraint"] == "Min"
    assert by_path["orderStatus"]["constraint"] == "Enum"


async def test_query_parameter_above_its_maximum_answers_400(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get(
        "/asyncOrders", params={"maxResults": "201"}, auth=tenant.auth
    )

    body = assert_envelope(response, 400, "400.002")
    assert [problem["path"] for problem in body["errors"]] == ["maxResults"]
    assert body["errors"][0]["constraint"] == "Max"


# ---- request media types -------------------------------------------------------------


async def test_text_plain_body_answers_415(api: Api, tenant: Tenant) -> None:
    response = await api.http.post(
        "/customers",
        content=b'{"customerIdentifier": "new-customer"}',
        headers={"Content-Type": "text/plain"},
        auth=tenant.auth,
    )

    body = assert_envelope(response, 415, "415.001")
    assert body["path"] == f"{PREFIX}/customers"


async def test_form_body_answers_415(api: Api, tenant: Tenant) -> None:
    response = await api.http.post("/customers", data=customer_body(), auth=tenant.auth)

    assert_envelope(response, 415, "415.001")


async def test_multipart_body_answers_415(api: Api, tenant: Tenant) -> None:
    response = await api.http.post(
        "/customers",
        files={"file": ("body.json", b"{}", "application/json")},
        auth=tenant.auth,
    )

    assert_envelope(response, 415, "415.001")


async def test_body_without_content_type_answers_415(api: Api, tenant: Tenant) -> None:
    response = await api.http.post("/customers", content=b'{"a": 1}', auth=tenant.auth)

    assert "content-type" not in response.request.headers
    assert_envelope(response, 415, "415.001")


async def test_415_refuses_before_anything_is_stored(api: Api, tenant: Tenant) -> None:
    await api.http.post("/customers", data=customer_body(), auth=tenant.auth)

    response = await api.http.get("/customers/new-customer", auth=tenant.auth)

    assert_envelope(response, 404, "404.002")


async def test_json_with_charset_and_json_suffix_media_types_are_accepted(
    api: Api, tenant: Tenant
) -> None:
    first = await api.http.post(
        "/customers",
        content=b'{"customerIdentifier": "cust-one", "displayName": "Customer one"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
        auth=tenant.auth,
    )
    second = await api.http.post(
        "/customers",
        content=b'{"customerIdentifier": "cust-two", "displayName": "Customer two"}',
        headers={"Content-Type": "application/merge-patch+json"},
        auth=tenant.auth,
    )

    assert first.status_code == 201, first.text
    assert second.status_code == 201, second.text


# ---- body size -----------------------------------------------------------------------


async def test_body_above_the_limit_by_content_length_answers_413(
    api: Api, tenant: Tenant
) -> None:
    async with client_with(api, max_body_bytes=SMALL_LIMIT) as http:
        response = await http.post(
            "/customers",
            json=customer_body(padding="x" * (SMALL_LIMIT + 100)),
            auth=tenant.auth,
        )

    assert int(response.request.headers["content-length"]) > SMALL_LIMIT
    body = assert_envelope(response, 413, "413.001")
    assert str(SMALL_LIMIT) in body["message"]
    lookup = await api.http.get("/customers/new-customer", auth=tenant.auth)
    assert lookup.status_code == 404


async def test_body_below_the_limit_is_accepted(api: Api, tenant: Tenant) -> None:
    async with client_with(api, max_body_bytes=SMALL_LIMIT) as http:
        response = await http.post(
            "/customers",
            json=customer_body(padding="x" * (SMALL_LIMIT // 2)),
            auth=tenant.auth,
        )

    assert response.status_code == 201, response.text


async def _streamed(total_padding: int, chunk: int = 256) -> AsyncIterator[bytes]:
    yield b'{"customerIdentifier": "new-customer", "displayName": "New customer", '
    yield b'"padding": "'
    sent = 0
    while sent < total_padding:
        size = min(chunk, total_padding - sent)
        yield b"x" * size
        sent += size
    yield b'"}'


async def test_streamed_body_above_the_limit_without_content_length_answers_413(
    api: Api, tenant: Tenant
) -> None:
    async with client_with(api, max_body_bytes=SMALL_LIMIT) as http:
        response = await http.post(
            "/customers",
            content=_streamed(SMALL_LIMIT * 2),
            headers={"Content-Type": "application/json"},
            auth=tenant.auth,
        )

    assert "content-length" not in response.request.headers
    body = assert_envelope(response, 413, "413.001")
    assert str(SMALL_LIMIT) in body["message"]
    lookup = await api.http.get("/customers/new-customer", auth=tenant.auth)
    assert lookup.status_code == 404


async def test_streamed_body_below_the_limit_is_accepted(
    api: Api, tenant: Tenant
) -> None:
    async with client_with(api, max_body_bytes=SMALL_LIMIT) as http:
        response = await http.post(
            "/customers",
            content=_streamed(SMALL_LIMIT // 2),
            headers={"Content-Type": "application/json"},
            auth=tenant.auth,
        )

    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert response.json()["customerIdentifier"] == "new-customer"


async def test_patch_body_above_the_limit_answers_413(api: Api, tenant: Tenant) -> None:
    async with client_with(api, max_body_bytes=SMALL_LIMIT) as http:
        response = await http.patch(
            tenant.order_url("order-1"),
            json={"notes": "n" * (SMALL_LIMIT + 1)},
            auth=tenant.auth,
        )

    assert_envelope(response, 413, "413.001")


# ---- response media types ------------------------------------------------------------


async def test_accept_text_html_on_an_api_route_answers_406(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get(
        "/customers", headers={"Accept": "text/html"}, auth=tenant.auth
    )

    body = assert_envelope(response, 406, "406.001")
    assert body["path"] == f"{PREFIX}/customers"


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "*/*",
        "application/*",
        "text/html, application/json;q=0.9",
        "application/problem+json",
    ],
)
async def test_accept_headers_that_allow_json_are_served(
    api: Api, tenant: Tenant, accept: str
) -> None:
    response = await api.http.get(
        "/customers", headers={"Accept": accept}, auth=tenant.auth
    )

    assert response.status_code == 200, response.text


async def test_docs_page_answers_html_to_a_browser(api: Api) -> None:
    response = await api.http.get(
        "/docs", headers={"Accept": "text/html,application/xhtml+xml"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


# ---- X-REQUEST-ID --------------------------------------------------------------------


async def test_request_id_is_a_generated_uuid_when_the_client_sends_none(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get("/customers", auth=tenant.auth)

    assert response.status_code == 200
    (value,) = response.headers.get_list("x-request-id")
    assert str(uuid.UUID(value)) == value


async def test_each_request_gets_its_own_generated_id(api: Api, tenant: Tenant) -> None:
    first = await api.http.get("/customers", auth=tenant.auth)
    second = await api.http.get("/customers", auth=tenant.auth)

    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_generated_request_id_is_the_envelope_request_id(api: Api) -> None:
    response = await api.http.get("/customers")

    body = assert_envelope(response, 401, "401.001")
    assert str(uuid.UUID(body["requestId"])) == body["requestId"]


@pytest.mark.parametrize(
    "sent", ["client-request-0001", "0f8fad5b-d9cb-469f-a165-70867728950e"]
)
async def test_well_formed_request_id_is_echoed(
    api: Api, tenant: Tenant, sent: str
) -> None:
    ok = await api.http.get(
        "/customers", headers={"X-REQUEST-ID": sent}, auth=tenant.auth
    )
    failed = await api.http.get(
        "/customers/nobody-here", headers={"X-REQUEST-ID": sent}, auth=tenant.auth
    )

    assert ok.headers.get_list("x-request-id") == [sent]
    body = assert_envelope(failed, 404, "404.002")
    assert body["requestId"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        "has spaces in it",
        "a" * 500,
        "bad\tcontrol-character",
        "<script>alert(1)</script>",
    ],
)
async def test_malformed_request_id_is_replaced(
    api: Api, tenant: Tenant, sent: str
) -> None:
    response = await api.http.get(
        "/customers/nobody-here", headers={"X-REQUEST-ID": sent}, auth=tenant.auth
    )

    body = assert_envelope(response, 404, "404.002")
    (value,) = response.headers.get_list("x-request-id")
    assert value != sent
    assert str(uuid.UUID(value)) == value
    assert body["requestId"] == value


async def test_error_answers_carry_exactly_one_request_id_header(
    api: Api, tenant: Tenant
) -> None:
    sent = {"X-REQUEST-ID": "client-request-0002"}
    answers = [
        await api.http.get("/customers", headers=sent),
        await api.http.get("/noSuchThing", headers=sent, auth=tenant.auth),
        await api.http.delete("/customers", headers=sent, auth=tenant.auth),
        await api.http.get(
            "/customers", headers={**sent, "Accept": "text/html"}, auth=tenant.auth
        ),
        await api.http.post(
            "/customers",
            content=b"x",
            headers={**sent, "Content-Type": "text/plain"},
            auth=tenant.auth,
        ),
        await api.http.post("/customers", content=b"{", headers=sent, auth=tenant.auth),
        await api.http.get(
            "/asyncOrders", params={"maxResults": "abc"}, headers=sent, auth=tenant.auth
        ),
    ]

    for response in answers:
        assert response.status_code >= 400
        assert response.headers.get_list("x-request-id") == ["client-request-0002"]
        assert response.json()["requestId"] == "client-request-0002"


# ---- bodies that are not JSON objects ------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'"text"', b"42", b"null", b"", b"\xff\xfe"]
)
async def test_body_that_is_not_a_json_object_answers_400_001(
    api: Api, tenant: Tenant, raw: bytes
) -> None:
    response = await api.http.post(
        "/customers",
        content=raw,
        headers={"Content-Type": "application/json"},
        auth=tenant.auth,
    )

    assert_envelope(response, 400, "400.001")


async def test_missing_fields_answer_400_with_one_entry_each(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.post("/customers", json={}, auth=tenant.auth)

    body = assert_envelope(response, 400, "400.002")
    problems = {problem["path"]: problem for problem in body["errors"]}
    assert set(problems) == {"customerIdentifier", "displayName"}
    assert all(p["constraint"] == "NotNull" for p in problems.values())


async def test_path_parameter_too_long_answers_400_naming_it(
    api: Api, tenant: Tenant
) -> None:
    response = await api.http.get("/customers/" + "c" * 101, auth=tenant.auth)

    body = assert_envelope(response, 400, "400.002")
    assert [problem["path"] for problem in body["errors"]] == ["customerIdentifier"]
    assert body["errors"][0]["constraint"] == "Size"


# ---- the NUL character, which PostgreSQL cannot store --------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/asyncOrders?campaign=a%00b",
        "/asyncOrders?accountIdentifier=%00",
        "/accounts/acme%00account",
        "/asyncOrders/customers/c%00/accounts/a/ref",
    ],
)
async def test_nul_in_path_or_query_is_refused_with_400(
    api: Api, tenant: Tenant, url: str
) -> None:
    response = await api.http.get(url, auth=tenant.auth)

    assert_envelope(response, 400, "400.002")


@pytest.mark.parametrize(
    "field", ["notes", "campaign", "purchaseOrderNumber", "externalRefID"]
)
async def test_nul_in_a_created_order_is_refused_with_400_and_nothing_stored(
    api: Api, tenant: Tenant, field: str
) -> None:
    body = order_body(tenant, "nul-order", **{field: "a\u0000b"})
    if field == "externalRefID":
        body["lineItems"][0]["lineItemNote"] = "x\u0000"

    response = await api.http.post("/asyncOrders", json=body, auth=tenant.auth)

    assert_envelope(response, 400, "400.002")
    listing = await api.http.get("/asyncOrders", auth=tenant.auth)
    assert listing.json()["orders"] == []
