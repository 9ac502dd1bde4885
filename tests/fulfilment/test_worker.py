from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from asyncorders.fulfilment.worker import Worker
from asyncorders.storage.tables import LedgerEntry, OutboxMessage, Reward
from tests.conftest import Api
from tests.factories import Tenant, line
from tests.fulfilment.helpers import (
    assert_ledger_balances,
    drain,
    line_statuses,
    lines,
    order_status,
    place,
    with_settings,
)

pytestmark = pytest.mark.anyio


def worker(api: Api, **changes: object) -> Worker:
    return Worker(api.runtime.database, with_settings(api.settings, **changes))


async def test_mixed_orders_end_complete_partial_and_failed_with_exact_ledger(
    api: Api, tenant: Tenant
) -> None:
    db, secret = api.runtime.database, api.runtime.secret
    complete = await place(db, secret, tenant, "all-good", lines(3, amount="10.10"))
    partial = await place(
        db,
        secret,
        tenant,
        "some-fail",
        [line("ok", amount="7.35"), line("bad", utid="U999001", amount="2.15")],
    )
    failed = await place(
        db, secret, tenant, "all-fail", lines(2, utid="U999001", amount="3.33")
    )

    await drain(worker(api))

    assert await order_status(db, complete.id) == "COMPLETE"
    assert await order_status(db, partial.id) == "PARTIAL"
    assert await order_status(db, failed.id) == "FAILED"
    assert await line_statuses(db, partial.id) == {"COMPLETE": 1, "FAILED": 1}
    await assert_ledger_balances(db)
    async with db.sessions() as session:
        refunded = await session.scalar(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.kind == "REFUND")
        )
    assert refunded == Decimal("2.15") + 2 * Decimal("3.33")
    balance = await api.http.get(f"/accounts/{tenant.account}", auth=tenant.auth)
    expected = Decimal("10000.00") - 3 * Decimal("10.10") - Decimal("7.35")
    assert Decimal(str(balance.json()["currentBalance"])) == expected


async def test_lines_refused_at_acceptance_do_not_make_the_order_partial(
    api: Api, tenant: Tenant
) -> None:
    order = await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "one-invalid",
        [line("ok"), line("unknown", utid="U000099")],
    )

    await drain(worker(api))

    assert await order_status(api.runtime.database, order.id) == "COMPLETE"


async def test_line_items_view_shows_credentials_of_the_item_types(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "creds",
        [line("card", utid="U000001", amount=25), line("code", utid="U000003")],
    )
    await drain(worker(api))

    url = tenant.order_url("creds")
    detailed = (await api.http.get(url + "/lineItems", auth=tenant.auth)).json()
    summary = await api.http.get(url, auth=tenant.auth)

    kinds = {
        item["externalRefLineItemID"]: [
            c["credentialType"] for c in item["rewards"][0]["credentialList"]
        ]
        for item in detailed["lineItems"]
    }
    assert kinds == {
        "card": ["cardNumber", "pin"],
        "code": ["claimCode", "redemptionUrl"],
    }
    card = detailed["lineItems"][0]["rewards"][0]["credentialList"][0]["value"]
    assert len(card) == 16
    assert card.isdigit()
    assert card not in summary.text
    assert all(item["dateIssued"] for item in detailed["lineItems"])


async def test_credentials_are_encrypted_at_rest_and_unique(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "many",
        lines(40, utid="U000001", amount=25),
    )
    await drain(worker(api, batch_size=9))

    detailed = await api.http.get(
        tenant.order_url("many") + "/lineItems?maxResults=100", auth=tenant.auth
    )
    cards = [
        item["rewards"][0]["credentialList"][0]["value"]
        for item in detailed.json()["lineItems"]
    ]
    assert len(set(cards)) == 40
    async with api.runtime.database.sessions() as session:
        stored = list(await session.scalars(select(Reward.credentials)))
        fingerprints = list(await session.scalars(select(Reward.fingerprint)))
    assert len(set(fingerprints)) == 40
    for blob in stored:
        assert blob is not None
        assert not any(card.encode() in blob for card in cards)


async def test_a_huge_order_does_not_starve_a_small_one(
    api: Api, tenant: Tenant
) -> None:
    db, secret = api.runtime.database, api.runtime.secret
    huge = await place(db, secret, tenant, "huge", lines(50))
    small = await place(db, secret, tenant, "small", lines(2))
    fulfilment = worker(api, batch_size=10)

    await fulfilment.fulfil_next()  # the huge order's first batch
    await fulfilment.fulfil_next()  # then the small order gets its turn

    assert await order_status(db, small.id) == "COMPLETE"
    assert await order_status(db, huge.id) == "PROCESSING"
    await drain(fulfilment)
    assert await order_status(db, huge.id) == "COMPLETE"


async def test_status_changes_are_history_events_and_change_the_etag(
    api: Api, tenant: Tenant
) -> None:
    await place(api.runtime.database, api.runtime.secret, tenant, "h", lines(2))
    url = tenant.order_url("h")
    before = (await api.http.get(url, auth=tenant.auth)).headers["ETag"]

    await drain(worker(api))

    after = await api.http.get(url, auth=tenant.auth)
    assert after.headers["ETag"] != before
    assert after.json()["completedAt"] is not None
    events = (await api.http.get(url + "/history", auth=tenant.auth)).json()["events"]
    statuses = [
        (change["oldValue"], change["newValue"])
        for event in reversed(events)
        if event["type"] == "STATUS_CHANGED"
        for change in event["changes"]
    ]
    assert statuses == [("PENDING", "PROCESSING"), ("PROCESSING", "COMPLETE")]


async def test_messages_are_recorded_in_the_outbox_without_a_transport(
    api: Api, tenant: Tenant
) -> None:
    await place(
        api.runtime.database,
        api.runtime.secret,
        tenant,
        "mail",
        [
            line("email"),
            line("none", deliveryMethod="NONE", recipient={}),
            line(
                "sms",
                deliveryMethod="PHONE",
                recipient={"firstName": "Bo", "mobileNumber": "+15555550100"},
            ),
        ],
    )
    await drain(worker(api))

    async with api.runtime.database.sessions() as session:
        messages = list(await session.scalars(select(OutboxMessage)))
    assert sorted((m.channel, m.recipient, m.status) for m in messages) == [
        ("EMAIL", "ada@example.com", "RECORDED"),
        ("SMS", "+15555550100", "RECORDED"),
    ]
