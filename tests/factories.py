"""Small `make_*` helpers with keyword overrides, for tests that need data."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from asyncorders.accounts import service as accounts
from asyncorders.accounts.schemas import CreateAccountCriteria, CreateCustomerCriteria
from asyncorders.api.deps import Runtime
from asyncorders.catalog import service as catalog
from asyncorders.demo.seed import demo_catalog
from asyncorders.platforms import repository as platform_repository
from asyncorders.platforms import service as platforms


@dataclass
class Tenant:
    """A platform ready for orders, and an authenticated client for it."""

    platform: str
    key: str
    customer: str
    account: str

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.platform, self.key)

    def order_url(self, external_ref_id: str) -> str:
        return (
            f"/asyncOrders/customers/{self.customer}/accounts/{self.account}"
            f"/{external_ref_id}"
        )


async def make_tenant(
    runtime: Runtime,
    platform: str,
    *,
    funds: Decimal = Decimal("10000.00"),
    currency: str = "USD",
) -> Tenant:
    """Create a platform (and the catalog, once), a customer and a funded account."""
    customer, account = f"{platform}-customer", f"{platform}-account"
    async with runtime.database.sessions() as session:
        issued = await platforms.create_platform(session, runtime.secret, platform)
        found = await platform_repository.get_by_name(session, platform)
        assert found is not None
        if not await catalog.items_by_utid(session, ["U000001"]):
            await catalog.load(session, demo_catalog())
        await accounts.create_customer(
            session,
            found.id,
            CreateCustomerCriteria(
                customerIdentifier=customer, displayName=f"{platform} customer"
            ),
        )
        await accounts.create_account(
            session,
            found.id,
            customer,
            CreateAccountCriteria(
                accountIdentifier=account,
                displayName=f"{platform} main",
                contactEmail=f"ops@{platform}.example",
                currencyCode=currency,
            ),
        )
        if funds:
            await accounts.fund(session, found.id, account, funds)
        await session.commit()
    return Tenant(platform, issued.key, customer, account)


def line(ref: str = "line-1", **overrides: Any) -> dict[str, Any]:
    """A valid line item: $25 of U000002 by EMAIL."""
    return {
        "externalRefLineItemID": ref,
        "utid": "U000002",
        "amount": 25,
        "deliveryMethod": "EMAIL",
        "recipient": {"firstName": "Ada", "email": "ada@example.com"},
        **overrides,
    }


def order_body(
    tenant: Tenant, ref: str = "order-1", **overrides: Any
) -> dict[str, Any]:
    """A valid create-order body with one line item, unless overridden."""
    return {
        "externalRefID": ref,
        "customerIdentifier": tenant.customer,
        "accountIdentifier": tenant.account,
        "lineItems": [line()],
        **overrides,
    }


async def create_order(
    http: httpx.AsyncClient, tenant: Tenant, ref: str = "order-1", **overrides: Any
) -> dict[str, Any]:
    response = await http.post(
        "/asyncOrders", json=order_body(tenant, ref, **overrides), auth=tenant.auth
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body
