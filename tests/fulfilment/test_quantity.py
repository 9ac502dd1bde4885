"""A line of quantity N is charged N times and issues N distinct rewards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from asyncorders.fulfilment.worker import Worker
from asyncorders.storage.tables import Reward
from tests.conftest import Api
from tests.factories import Tenant, line
from tests.fulfilment.helpers import (
    assert_ledger_balances,
    drain,
    place,
    with_settings,
)
from tests.fulfilment.test_dispatch import Outbox

pytestmark = pytest.mark.anyio


async def test_a_line_of_quantity_three_gets_three_distinct_rewards(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "three",
        [line("x3", utid="U000001", amount=25, quantity=3, deliveryMethod="NONE")],
    )
    await drain(Worker(api.runtime.database, api.settings))

    detailed = await api.http.get(
        tenant.order_url("three") + "/lineItems", auth=tenant.auth
    )

    (item,) = detailed.json()["lineItems"]
    assert item["quantity"] == 3
    assert Decimal(str(item["amountCharged"]["total"])) == Decimal("75")
    assert Decimal(str(item["amountIssued"]["total"])) == Decimal("75")
    assert [r["rewardStatus"] for r in item["rewards"]] == ["ISSUED"] * 3
    cards = [r["credentialList"][0]["value"] for r in item["rewards"]]
    pins = [r["credentialList"][1]["value"] for r in item["rewards"]]
    assert len(set(cards)) == 3
    assert len(set(pins)) == 3
    async with api.runtime.database.sessions() as session:
        rewards = list(await session.scalars(select(Reward).order_by(Reward.position)))
    assert [r.position for r in rewards] == [0, 1, 2]
    assert len({r.fingerprint for r in rewards}) == 3
    for reward in rewards:
        assert not any(card.encode() in reward.credentials for card in cards)
    await assert_ledger_balances(api.runtime.database)
    balance = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)
    assert Decimal(str(balance.json()["currentBalance"])) == Decimal("9925.00")


async def test_every_reward_of_a_line_goes_in_its_one_message(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "two",
        [line("x2", utid="U000001", amount=25, quantity=2)],
    )
    outbox = Outbox()
    worker = Worker(
        api.runtime.database, api.settings, transports_by_channel={"EMAIL": outbox}
    )
    await drain(worker)

    assert await worker.dispatch() == 1

    detailed = await api.http.get(
        tenant.order_url("two") + "/lineItems", auth=tenant.auth
    )
    (item,) = detailed.json()["lineItems"]
    (message,) = outbox.sent
    assert len(item["rewards"]) == 2
    for number, reward in enumerate(item["rewards"], start=1):
        assert f"Reward {number} of 2:" in message.body
        for credential in reward["credentialList"]:
            assert credential["value"] in message.body
    assert item["deliveryStatus"] == "DISPATCHED"


async def test_the_database_refuses_a_reward_issued_twice(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "once",
        [line("x2", quantity=2, deliveryMethod="NONE")],
    )
    await drain(Worker(api.runtime.database, api.settings))
    async with api.runtime.database.sessions() as session:
        first, second = await session.scalars(select(Reward).order_by(Reward.id))
        second.fingerprint = first.fingerprint

        with pytest.raises(IntegrityError):
            await session.commit()


async def test_a_batch_holds_whole_lines_up_to_the_batch_size_in_rewards(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "big",
        [line(f"q{n}", quantity=2, deliveryMethod="NONE") for n in range(3)]
        + [line("huge", quantity=7, deliveryMethod="NONE")],
    )
    worker = Worker(api.runtime.database, with_settings(api.settings, batch_size=4))

    batches = [await worker.fulfil_next() for _ in range(3)]

    assert [b.completed if b else None for b in batches] == [2, 1, 1]
    assert batches[-1] is not None
    assert batches[-1].finished_as == "COMPLETE"
    async with api.runtime.database.sessions() as session:
        rewards = list(await session.scalars(select(Reward.id)))
    assert len(rewards) == 3 * 2 + 7
