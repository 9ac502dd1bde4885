"""The OpenAPI document describes every endpoint of contract section 4."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from asyncorders.orders.schemas import (
    CreateAsyncOrderCriteria,
    UpdateAsyncOrderCriteria,
)
from tests.conftest import Api

pytestmark = pytest.mark.anyio

PREFIX = "/raas/v2"
ORDER = (
    f"{PREFIX}/asyncOrders/customers/{{customerIdentifier}}"
    "/accounts/{accountIdentifier}/{externalRefID}"
)
ERROR_INFO = "#/components/schemas/ErrorInfo"

# (method, path) of every endpoint of contract section 4.
ENDPOINTS = [
    ("post", f"{PREFIX}/asyncOrders"),
    ("get", f"{PREFIX}/asyncOrders"),
    ("get", ORDER),
    ("patch", ORDER),
    ("get", f"{ORDER}/lineItems"),
    ("get", f"{ORDER}/history"),
    ("post", f"{PREFIX}/customers"),
    ("get", f"{PREFIX}/customers"),
    ("get", f"{PREFIX}/customers/{{customerIdentifier}}"),
    ("post", f"{PREFIX}/customers/{{customerIdentifier}}/accounts"),
    ("get", f"{PREFIX}/customers/{{customerIdentifier}}/accounts"),
    ("get", f"{PREFIX}/accounts/{{accountIdentifier}}"),
    ("get", f"{PREFIX}/catalogs"),
]
BODIES = {
    ("post", f"{PREFIX}/asyncOrders"): "CreateAsyncOrderCriteria",
    ("patch", ORDER): "UpdateAsyncOrderCriteria",
    ("post", f"{PREFIX}/customers"): "CreateCustomerCriteria",
    ("post", f"{PREFIX}/customers/{{customerIdentifier}}/accounts"): (
        "CreateAccountCriteria"
    ),
}
ENDPOINT_IDS = [f"{method.upper()} {path}" for method, path in ENDPOINTS]


@pytest.fixture
async def document(api: Api) -> dict[str, Any]:
    response = await api.http.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    assert path in document["paths"], sorted(document["paths"])
    operations: dict[str, Any] = document["paths"][path]
    assert method in operations, sorted(operations)
    operation: dict[str, Any] = operations[method]
    return operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), ref
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _body_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    body = _operation(document, method, path).get("requestBody")
    assert body is not None, f"{method.upper()} {path} documents no request body"
    if "$ref" in body:
        body = _resolve(document, body["$ref"])
    assert body.get("required") is True
    schema: dict[str, Any] = body["content"]["application/json"]["schema"]
    return schema


def _examples(document: dict[str, Any], method: str, path: str) -> list[Any]:
    """Examples on the body's media type or on the schema it references."""
    operation = _operation(document, method, path)
    media = operation["requestBody"]["content"]["application/json"]
    found: list[Any] = []
    if "example" in media:
        found.append(media["example"])
    found.extend(item.get("value") for item in media.get("examples", {}).values())
    schema = media["schema"]
    if "$ref" in schema:
        schema = _resolve(document, schema["$ref"])
    if "example" in schema:
        found.append(schema["example"])
    found.extend(schema.get("examples", []))
    return found


async def test_document_is_openapi_3_with_basic_auth(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    schemes = document["components"]["securitySchemes"]
    assert schemes["basicAuth"] == {
        "type": "http",
        "scheme": "basic",
        "description": schemes["basicAuth"]["description"],
    }
    assert document["security"] == [{"basicAuth": []}]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_contract_endpoint_is_listed(
    document: dict[str, Any], method: str, path: str
) -> None:
    operation = _operation(document, method, path)

    successes = [code for code in operation["responses"] if code.startswith("2")]
    assert successes, operation["responses"]


async def test_success_codes_match_the_contract(document: dict[str, Any]) -> None:
    def codes(method: str, path: str) -> set[str]:
        return set(_operation(document, method, path)["responses"])

    assert {"200", "202"} <= codes("post", f"{PREFIX}/asyncOrders")
    assert "201" in codes("post", f"{PREFIX}/customers")
    assert "201" in codes("post", f"{PREFIX}/customers/{{customerIdentifier}}/accounts")
    assert "200" in codes("patch", ORDER)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_endpoint_documents_401_with_the_error_envelope(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = _operation(document, method, path)["responses"]

    assert "401" in responses, sorted(responses)
    schema = responses["401"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": ERROR_INFO}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_every_documented_error_answer_uses_the_error_envelope(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = _operation(document, method, path)["responses"]

    wrong = {
        code: answer.get("content", {}).get("application/json", {}).get("schema")
        for code, answer in responses.items()
        if not code.startswith("2")
        and answer.get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": ERROR_INFO}
    }
    assert wrong == {}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=ENDPOINT_IDS)
async def test_endpoints_with_parameters_document_their_400_answer(
    document: dict[str, Any], method: str, path: str
) -> None:
    # Bad path and query parameters answer 400 with the envelope (not 422).
    operation = _operation(document, method, path)
    if not operation.get("parameters") and "requestBody" not in operation:
        pytest.skip("takes no input")

    assert "400" in operation["responses"], sorted(operation["responses"])


async def test_error_documentation_matches_what_the_routes_answer(
    document: dict[str, Any],
) -> None:
    def codes(method: str, path: str) -> set[str]:
        return set(_operation(document, method, path)["responses"])

    assert {"400", "402", "404", "413", "415"} <= codes("post", f"{PREFIX}/asyncOrders")
    assert {"400", "404", "412", "413", "415"} <= codes("patch", ORDER)
    assert {"400", "409", "413", "415"} <= codes("post", f"{PREFIX}/customers")
    assert {"404", "409"} <= codes(
        "post", f"{PREFIX}/customers/{{customerIdentifier}}/accounts"
    )
    assert "404" in codes("get", f"{PREFIX}/accounts/{{accountIdentifier}}")
    assert "404" in codes("get", ORDER)


async def test_error_info_schema_describes_the_envelope(
    document: dict[str, Any],
) -> None:
    schema = document["components"]["schemas"]["ErrorInfo"]

    assert set(schema["properties"]) == {
        "timestamp",
        "requestId",
        "path",
        "httpCode",
        "httpPhrase",
        "i18nKey",
        "message",
        "errors",
    }
    assert set(schema["required"]) == set(schema["properties"])
    item = _resolve(document, schema["properties"]["errors"]["items"]["$ref"])
    assert {"path", "code", "i18nKey", "message", "invalidValue", "constraint"} <= set(
        item["properties"]
    )


@pytest.mark.parametrize(
    ("method", "path", "model"),
    [(method, path, model) for (method, path), model in BODIES.items()],
    ids=[f"{m.upper()} {p}" for m, p in BODIES],
)
async def test_request_bodies_reference_existing_component_schemas(
    document: dict[str, Any], method: str, path: str, model: str
) -> None:
    schema = _body_schema(document, method, path)

    assert schema == {"$ref": f"#/components/schemas/{model}"}
    resolved = _resolve(document, schema["$ref"])
    assert resolved["type"] == "object"
    assert resolved["properties"]


async def test_every_reference_in_the_document_resolves(
    document: dict[str, Any],
) -> None:
    refs = set(_refs(document))

    assert refs
    for ref in sorted(refs):
        _resolve(document, ref)


async def test_no_component_schema_keeps_local_definitions(
    document: dict[str, Any],
) -> None:
    # `$defs` inside a component would make `#/$defs/...` style refs dangle.
    for name, schema in document["components"]["schemas"].items():
        assert "$defs" not in schema, name


@pytest.mark.parametrize(
    ("method", "path", "model"),
    [
        ("post", f"{PREFIX}/asyncOrders", CreateAsyncOrderCriteria),
        ("patch", ORDER, UpdateAsyncOrderCriteria),
    ],
    ids=["create", "patch"],
)
async def test_create_and_patch_bodies_carry_valid_examples(
    document: dict[str, Any], method: str, path: str, model: type[BaseModel]
) -> None:
    examples = _examples(document, method, path)

    assert examples, f"no example for {method.upper()} {path}"
    for example in examples:
        model.model_validate(example)


async def test_create_example_names_a_demo_catalog_item(
    document: dict[str, Any],
) -> None:
    (example, *_) = _examples(document, "post", f"{PREFIX}/asyncOrders")

    assert example["lineItems"]
    assert all(item["utid"].upper().startswith("U") for item in example["lineItems"])


async def test_every_parameter_of_the_order_path_is_documented(
    document: dict[str, Any],
) -> None:
    for method in ("get", "patch"):
        parameters = _operation(document, method, ORDER)["parameters"]
        in_path = {p["name"] for p in parameters if p["in"] == "path"}
        assert in_path == {"customerIdentifier", "accountIdentifier", "externalRefID"}


async def test_docs_page_answers_200_html(api: Api) -> None:
    response = await api.http.get("/docs", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/raas/v2/openapi.json" in response.text


async def test_openapi_document_needs_no_credentials_and_has_a_request_id(
    api: Api,
) -> None:
    response = await api.http.get("/openapi.json")

    assert response.status_code == 200
    assert len(response.headers.get_list("x-request-id")) == 1
