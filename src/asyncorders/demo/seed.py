"""Demo data for the embedded sandbox: a platform, a customer, a funded account, a
catalog (with items that always fail) and one async order to try the PATCH on.

It is created only in a database that has no platform yet. The demo key is kept
in `data_dir/demo.key` (mode 0600) so every start can say how to call the API.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.accounts import service as accounts
from asyncorders.accounts.schemas import CreateAccountCriteria, CreateCustomerCriteria
from asyncorders.catalog import service as catalog
from asyncorders.catalog.schemas import CatalogFile
from asyncorders.orders import service as orders
from asyncorders.orders.schemas import CreateAsyncOrderCriteria
from asyncorders.platforms import repository as platform_repository
from asyncorders.platforms import service as platforms
from asyncorders.settings import Settings, read_or_create_secret_file
from asyncorders.storage.engine import Database

PLATFORM = "demo"
CUSTOMER = "demo-customer"
ACCOUNT = "demo-account"
ORDER = "demo-order-1"
FUNDING = Decimal("100000.00")


@dataclass(frozen=True)
class DemoAccess:
    platform: str
    key: str
    customer: str
    account: str
    order: str

    def curl(self, base_url: str) -> str:
        url = (
            f"{base_url}/raas/v2/asyncOrders/customers/{self.customer}"
            f"/accounts/{self.account}/{self.order}"
        )
        return (
            f"curl -u {self.platform}:{self.key} -X PATCH "
            "-H 'Content-Type: application/json' "
            f"""-d '{{"campaign": "spring-bonus", "notes": "corrected"}}' {url}"""
        )


def demo_catalog() -> CatalogFile:
    text = resources.files("asyncorders.demo").joinpath("catalog.json").read_text()
    return CatalogFile.model_validate(json.loads(text))


async def ensure(database: Database, settings: Settings) -> DemoAccess | None:
    """Seed an empty database; return how to reach the demo platform, if it exists."""
    key = read_or_create_secret_file(_key_file(settings)).decode()
    secret = settings.resolved_secret_key
    async with database.sessions() as session:
        if await platform_repository.count(session) == 0:
            await _seed(session, secret, key)
            await session.commit()
        if await platforms.authenticate(session, secret, PLATFORM, key) is None:
            return None
    return DemoAccess(PLATFORM, key, CUSTOMER, ACCOUNT, ORDER)


async def _seed(session: AsyncSession, secret: bytes, key: str) -> None:
    issued = await platforms.create_platform(session, secret, PLATFORM, key=key)
    caller = await platforms.authenticate(session, secret, PLATFORM, issued.key)
    if caller is None:  # pragma: no cover - the key was issued a line above
        raise RuntimeError("the demo key does not authenticate")
    await catalog.load(session, demo_catalog())
    await accounts.create_customer(
        session,
        caller.platform_id,
        CreateCustomerCriteria(
            customerIdentifier=CUSTOMER, displayName="Demo Customer"
        ),
    )
    await accounts.create_account(
        session,
        caller.platform_id,
        CUSTOMER,
        CreateAccountCriteria(
            accountIdentifier=ACCOUNT,
            displayName="Demo Account",
            contactEmail="demo@example.com",
        ),
    )
    await accounts.fund(
        session, caller.platform_id, ACCOUNT, FUNDING, note="demo funding"
    )
    await orders.create(
        session,
        caller,
        CreateAsyncOrderCriteria.model_validate(_DEMO_ORDER),
        request_id="demo-seed",
        max_line_items=100,
    )


def _key_file(settings: Settings) -> Path:
    return settings.data_dir / "demo.key"


_DEMO_ORDER = {
    "externalRefID": ORDER,
    "customerIdentifier": CUSTOMER,
    "accountIdentifier": ACCOUNT,
    "campaign": "welcome",
    "notes": "Demo order created on first start.",
    "lineItems": [
        {
            "externalRefLineItemID": "demo-line-1",
            "utid": "U000001",
            "amount": 25,
            "deliveryMethod": "EMAIL",
            "recipient": {"firstName": "Ada", "email": "ada@example.com"},
        },
        {
            "externalRefLineItemID": "demo-line-2",
            "utid": "U000002",
            "amount": 50,
            "deliveryMethod": "NONE",
            "recipient": {},
        },
        {
            "externalRefLineItemID": "demo-line-3",
            "utid": "U999001",
            "amount": 10,
            "deliveryMethod": "NONE",
            "recipient": {},
        },
    ],
}
