"""The ledger always balances (contract section 6), whatever orders arrive.

A hypothesis property: after any sequence of creates (random amounts and
quantities, some invalid lines, some orders over the balance, some repeats of an
earlier externalRefID), the account's current balance is funded - charged
(+ refunded, zero here: no worker runs in these tests) and equals the sum of its
ledger entries.

`@given` cannot decorate an async test, so the property runs in a worker thread
(`anyio.to_thread.run_sync`) and calls back into the test's event loop for every
request (`anyio.from_thread.run`). The test checks afterwards that hypothesis
really ran the examples it was asked for.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from asyncorders.accounts import service as accounts
from asyncorders.platforms import repository as platform_repository
from asyncorders.storage.tables import LedgerEntry
from tests.conftest import Api
from tests.factories import Tenant, line, make_tenant, order_body

pytestmark = pytest.mark.anyio

MAX_EXAMPLES = 20
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LineSpec:
    ref: str
    utid: str
    cents: int
    quantity: int

    @property
    def amount(self) -> Decimal:
        return Decimal(self.cents) * CENT

    @property
    def valid(self) -> bool:
        """The demo catalog's rules for a USD account."""
        if self.utid == "U000001":  # fixed $25
            return self.cents == 2500
        if self.utid == "U000002":  # $1 to $2000
            return 100 <= self.cents <= 200_000
        if self.utid == "U000003":  # $5 to $500
            return 500 <= self.cents <= 50_000
        return False  # U000004 is EUR, U000005 inactive, U999999 unknown


@dataclass(frozen=True)
class OrderSpec:
    ref: str
    lines: tuple[LineSpec, ...]


@dataclass(frozen=True)
class Scenario:
    funds_cents: int
    orders: tuple[OrderSpec, ...]


EDGE_CENTS = [0, 1, 99, 100, 101, 499, 500, 2500, 2499, 50_000, 50_001, 200_000]

line_specs = st.builds(
    LineSpec,
    ref=st.sampled_from(["a", "b", "c", "d", "e"]),
    utid=st.sampled_from(
        ["U000001", "U000002", "U000002", "U000003", "U000004", "U000005", "U999999"]
    ),
    cents=st.one_of(st.sampled_from(EDGE_CENTS), st.integers(0, 250_000)),
    quantity=st.integers(1, 3),
)
order_specs = st.builds(
    OrderSpec,
    # A small pool of references, so that repeats of earlier orders happen often.
    ref=st.sampled_from([f"order-{i}" for i in range(6)]),
    lines=st.lists(line_specs, min_size=1, max_size=6).map(tuple),
)
scenarios = st.builds(
    Scenario,
    # Mostly enough money for a few orders, sometimes (almost) none.
    funds_cents=st.one_of(
        st.integers(10_000, 1_000_000),
        st.integers(10_000, 1_000_000),
        st.sampled_from([0, 100, 2500, 4999]),
    ),
    orders=st.lists(order_specs, min_size=1, max_size=8).map(tuple),
)


def _request_body(tenant: Tenant, order: OrderSpec) -> str:
    """The create body, amounts written as exact decimal text."""
    items = [
        line(spec.ref, utid=spec.utid, amount=f"@{i}@", quantity=spec.quantity)
        for i, spec in enumerate(order.lines)
    ]
    text = json.dumps(order_body(tenant, order.ref, lineItems=items))
    for i, spec in enumerate(order.lines):
        text = text.replace(f'"@{i}@"', str(spec.amount))
    return text


@dataclass
class Model:
    """What the account should look like: the balance and the accepted orders."""

    balance: Decimal
    charged: Decimal = Decimal("0.00")
    accepted: frozenset[str] = frozenset()

    def expect(self, order: OrderSpec) -> tuple[int, Decimal]:
        """The status code the create must answer and what it must charge."""
        if order.ref in self.accepted:
            return 200, Decimal("0.00")
        first: dict[str, LineSpec] = {}
        for spec in order.lines:
            first.setdefault(spec.ref, spec)
        total = sum(
            (s.amount * s.quantity for s in first.values() if s.valid),
            Decimal("0.00"),
        )
        if total > self.balance:
            return 402, Decimal("0.00")
        return 202, total


async def _balance(api: Api, tenant: Tenant) -> Decimal:
    response = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal, parse_int=Decimal)
    value = body["currentBalance"]
    assert isinstance(value, Decimal)
    return value


async def _ledger(api: Api, tenant: Tenant) -> tuple[Decimal, dict[str, Decimal]]:
    """The stored balance, and the ledger's totals by kind read straight from it."""
    async with api.runtime.database.sessions() as session:
        platform = await platform_repository.get_by_name(session, tenant.platform)
        assert platform is not None
        account, _ = await accounts.get_account(session, platform.id, tenant.account)
        rows = await session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.account_id == account.id)
            .group_by(LedgerEntry.kind)
        )
        return account.balance, {kind: Decimal(total) for kind, total in rows}


async def _ledger_totals(api: Api, tenant: Tenant) -> accounts.LedgerTotals:
    async with api.runtime.database.sessions() as session:
        platform = await platform_repository.get_by_name(session, tenant.platform)
        assert platform is not None
        account, _ = await accounts.get_account(session, platform.id, tenant.account)
        return await accounts.ledger_totals(session, account.id)


async def _run_scenario(api: Api, name: str, scenario: Scenario) -> None:
    funds = Decimal(scenario.funds_cents) * CENT
    tenant = await make_tenant(api.runtime, name, funds=funds)
    model = Model(balance=funds)

    for order in scenario.orders:
        expected_status, charge = model.expect(order)
        response = await api.http.post(
            "/asyncOrders",
            content=_request_body(tenant, order),
            headers={"Content-Type": "application/json"},
            auth=tenant.auth,
        )
        assert response.status_code == expected_status, (order, response.text)
        if expected_status == 202:
            body: dict[str, Any] = response.json()
            counts = Counter(spec.ref for spec in order.lines)
            assert body["duplicateLineItemRefIds"] == {
                ref: n for ref, n in counts.items() if n > 1
            }
            first: dict[str, LineSpec] = {}
            for spec in order.lines:
                first.setdefault(spec.ref, spec)
            failed = {ref for ref, spec in first.items() if not spec.valid}
            assert {f["externalRefLineItemID"] for f in body["failedLineItems"]} == (
                failed
            )
            assert body["status"] == ("FAILED" if failed == set(first) else "PENDING")
            model.balance -= charge
            model.charged += charge
            model.accepted = model.accepted | {order.ref}
        assert await _balance(api, tenant) == model.balance, order

    current = await _balance(api, tenant)
    assert current == funds - model.charged
    stored, sums = await _ledger(api, tenant)
    assert stored == current
    assert sums.get("FUND", Decimal("0.00")) == funds
    assert sums.get("CHARGE", Decimal("0.00")) == model.charged
    assert sums.get("REFUND", Decimal("0.00")) == 0
    assert sum(sums.values(), Decimal("0.00")) - 2 * sums.get(
        "CHARGE", Decimal("0.00")
    ) == (current)  # FUND + REFUND - CHARGE
    totals = await _ledger_totals(api, tenant)
    assert totals.funded == funds
    assert totals.charged == model.charged
    assert totals.refunded == 0
    assert totals.expected_balance == current


async def test_balance_always_equals_funded_minus_charged_and_the_ledger(
    api: Api,
) -> None:
    names = (f"ledger{n}" for n in itertools.count())
    examples: list[Scenario] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(scenario=scenarios)
    def property_holds(scenario: Scenario) -> None:
        examples.append(scenario)
        anyio.from_thread.run(_run_scenario, api, next(names), scenario)

    await anyio.to_thread.run_sync(property_holds)

    assert len(examples) >= MAX_EXAMPLES
    assert len({example.orders for example in examples}) > 1
