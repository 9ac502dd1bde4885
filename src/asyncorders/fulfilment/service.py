"""Fulfilment of accepted orders (contract section 6), one batch at a time.

A worker claims the order whose turn it is (a short transaction that takes a
lease), then fulfils up to `batch_size` of its pending line items in one
transaction: credentials, line states, outbox messages, refunds and the order's
state commit together or not at all. After each batch the order goes to the back
of the queue, so one huge order cannot starve small ones.

Exactly once, whatever dies when: pending lines are locked (rows other workers
hold are skipped), every line leaves PENDING only once, a refund per line and a
credential fingerprint are unique in the database, and an order is finished only
from PROCESSING.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.catalog import service as catalog
from asyncorders.clock import utcnow
from asyncorders.fulfilment import credentials, repository
from asyncorders.fulfilment.credentials import Vault
from asyncorders.fulfilment.delivery import CHANNELS, Outgoing
from asyncorders.storage.tables import AsyncOrder, CatalogItem, LineItem, OrderEvent

STATUS_CHANGED = "STATUS_CHANGED"
FULFILMENT_FAILED = "FULFILMENT_FAILED"
MAX_SEND_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class Claim:
    order_id: int
    reference_order_id: str


@dataclass(frozen=True, slots=True)
class BatchResult:
    order_id: int
    reference_order_id: str
    completed: int
    failed: int
    finished_as: str | None  # the final status, when this batch ended the order


@dataclass(frozen=True, slots=True)
class Rules:
    """How a worker fulfils: batch size, lease, transports, testing delay."""

    worker_id: str
    batch_size: int
    lease: timedelta
    channels_with_transport: frozenset[str]
    delay_per_line: float = 0.0
    # Longer than a round of sends can take (SMTP gives up after 10 s a
    # message); a sender that dies leaves its claim to expire.
    send_claim: timedelta = timedelta(minutes=5)


async def claim(session: AsyncSession, rules: Rules) -> Claim | None:
    """Take the lease on the order whose turn it is; PENDING becomes PROCESSING."""
    now = utcnow()
    order = await repository.lock_claimable(session, now)
    if order is None:
        return None
    if order.status == "PENDING":
        _status_event(session, order, "PROCESSING", now)
        order.status = "PROCESSING"
        order.version += 1
        order.updated_at = now
    order.lease_owner = rules.worker_id
    order.lease_expires_at = now + rules.lease
    await session.flush()
    return Claim(order.id, order.reference_order_id)


async def renew(session: AsyncSession, claim: Claim, rules: Rules) -> bool:
    return await repository.renew_lease(
        session, claim.order_id, rules.worker_id, utcnow() + rules.lease
    )


async def fulfil_batch(
    session: AsyncSession, claim: Claim, rules: Rules, vault: Vault
) -> BatchResult:
    """Fulfil the next pending lines of a claimed order, then release or finish it."""
    order = await session.get(AsyncOrder, claim.order_id)
    if order is None:  # pragma: no cover - orders are never deleted
        raise LookupError(claim.order_id)
    locked = await repository.lock_pending_lines(session, order.id, rules.batch_size)
    lines = _fitting(locked, rules.batch_size)
    items = await catalog.items_by_utid(session, {line.utid for line in lines})

    now = utcnow()
    saved: list[dict[str, Any]] = []
    refunds: dict[int, Decimal] = {}
    issued: list[tuple[LineItem, list[list[credentials.Credential]]]] = []
    for line in lines:
        if rules.delay_per_line:
            await asyncio.sleep(rules.delay_per_line)
        item = items.get(line.utid)
        if item is None or item.fulfilment == "ALWAYS_FAIL":
            saved.append(_failed(line, item))
            refunds[line.id] = line.amount_charged
        else:
            sets = [
                credentials.issue(item.credential_types) for _ in range(line.quantity)
            ]
            issued.append((line, sets))
    saved += [_issued(line, now) for line, _ in issued]
    rewards = await _sealed(session, issued, vault)
    messages = [
        message
        for line, _ in issued
        if (message := _message(line, items[line.utid], rules, now)) is not None
    ]

    await repository.save_lines(session, saved)
    await repository.add_rewards(session, rewards)
    await repository.add_outbox(session, messages)
    await repository.refund(session, order.account_id, order.id, refunds, now)
    finished_as = await _finish_or_release(session, order, rules, now)
    return BatchResult(
        order.id,
        order.reference_order_id,
        completed=len(issued),
        failed=len(refunds),
        finished_as=finished_as,
    )


def _fitting(lines: list[LineItem], rewards: int) -> list[LineItem]:
    """The first lines whose rewards (quantity each) fit in one batch; a line
    is never split, so a batch has at least one line."""
    fitting: list[LineItem] = []
    total = 0
    for line in lines:
        total += line.quantity
        if fitting and total > rewards:
            break
        fitting.append(line)
    return fitting


async def _sealed(
    session: AsyncSession,
    issued: list[tuple[LineItem, list[list[credentials.Credential]]]],
    vault: Vault,
) -> list[dict[str, Any]]:
    """Encrypted, fingerprinted rewards, `quantity` per line; a (vanishingly
    rare) clash with any reward ever issued, or within the batch, is redrawn."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    todo = [
        (line, position, creds)
        for line, sets in issued
        for position, creds in enumerate(sets)
    ]
    while todo:
        fingerprints = [vault.fingerprint(line.utid, creds) for line, _, creds in todo]
        taken = await repository.taken_fingerprints(session, fingerprints)
        redraw = []
        for (line, position, creds), fingerprint in zip(
            todo, fingerprints, strict=True
        ):
            if fingerprint in taken or fingerprint in seen:
                kinds = [c.credential_type for c in creds]
                redraw.append((line, position, credentials.issue(kinds)))
                continue
            seen.add(fingerprint)
            rows.append(
                {
                    "line_item_id": line.id,
                    "position": position,
                    "credentials": vault.seal(creds),
                    "fingerprint": fingerprint,
                }
            )
        todo = redraw
    return rows


def _issued(line: LineItem, now: datetime) -> dict[str, Any]:
    return {
        "id": line.id,
        "status": "COMPLETE",
        "delivery_status": _delivery_status(line),
        "date_issued": now,
    }


def _failed(line: LineItem, item: CatalogItem | None) -> dict[str, Any]:
    reason = (
        "The reward could not be issued by its supplier."
        if item is not None
        else f"Item {line.utid} is no longer in the catalog."
    )
    return {
        "id": line.id,
        "status": "FAILED",
        "delivery_status": "FAILED",
        "errors": [{"errorCode": FULFILMENT_FAILED, "errorMessage": reason}],
    }


def _delivery_status(line: LineItem) -> str:
    return "PROCESSING" if line.delivery_method in CHANNELS else "DELIVERED"


def _message(
    line: LineItem, item: CatalogItem, rules: Rules, now: datetime
) -> dict[str, Any] | None:
    channel = CHANNELS.get(line.delivery_method)
    recipient = line.recipient or {}
    address = recipient.get("email" if channel == "EMAIL" else "mobileNumber")
    if channel is None or not address:
        return None
    subject = line.email_subject or f"Your reward: {item.reward_name}"
    return {
        "line_item_id": line.id,
        "channel": channel,
        "recipient": address,
        "subject": subject[:255],
        "status": "PENDING" if channel in rules.channels_with_transport else "RECORDED",
        "attempts": 0,
        "not_before": max(line.delivery_date or now, now),
        "created_at": now,
        "sent_at": None,
    }


async def _finish_or_release(
    session: AsyncSession, order: AsyncOrder, rules: Rules, now: datetime
) -> str | None:
    counts = await repository.line_counts(session, order.id)
    if counts.get("PENDING"):
        await repository.release(session, order.id, rules.worker_id, now)
        return None
    status = final_status(counts.get("COMPLETE", 0), counts.get("FAILED", 0), order)
    if not await repository.finish(session, order.id, status, now):
        return None
    _status_event(session, order, status, now, old="PROCESSING")
    return status


def final_status(delivered: int, failed: int, order: AsyncOrder) -> str:
    """COMPLETE when every valid line was delivered, FAILED when none was,
    PARTIAL otherwise. Lines refused at acceptance are in `failedLineItems` and
    do not make an order PARTIAL."""
    if delivered == 0:
        return "FAILED"
    failed_in_fulfilment = failed - len(order.failed_line_items)
    return "PARTIAL" if failed_in_fulfilment > 0 else "COMPLETE"


def _status_event(
    session: AsyncSession,
    order: AsyncOrder,
    new: str,
    now: datetime,
    old: str | None = None,
) -> None:
    session.add(
        OrderEvent(
            order_id=order.id,
            kind=STATUS_CHANGED,
            occurred_at=now,
            changes=[{"field": "orderStatus", "old": old or order.status, "new": new}],
        )
    )


# ---- delivery -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """A claimed outbox message, ready to be sent outside any transaction."""

    message_id: int
    line_item_id: int
    order_id: int
    reference_line_item_id: str
    attempts: int
    outgoing: Outgoing


async def claim_deliveries(
    session: AsyncSession, rules: Rules, vault: Vault, channels: list[str], limit: int
) -> list[Delivery]:
    """Claim due outbox messages (a short transaction) and prepare each one.

    At least once: a sender that dies after its send but before recording it
    leaves the claim to expire, and the message goes again with the same
    Message-ID, so the recipient's mail system can tell it is the same one.
    """
    now = utcnow()
    messages = await repository.claim_due_messages(
        session, channels, now, limit, rules.worker_id, now + rules.send_claim
    )
    line_ids = [m.line_item_id for m in messages]
    lines = await repository.lines_by_id(session, line_ids)
    rewards = await repository.sealed_rewards(session, line_ids)
    deliveries = []
    for message in messages:
        line = lines[message.line_item_id]
        sealed = rewards.get(line.id)
        if not sealed:  # pragma: no cover - written with the rewards
            message.status = "FAILED"
            message.last_error = "line item has no rewards"
            message.claimed_by = message.claim_expires_at = None
            continue
        outgoing = Outgoing(
            channel=message.channel,
            recipient=message.recipient,
            subject=message.subject,
            body=message_body(line, [vault.reveal(r) for r in sealed]),
            message_id=f"<{line.reference_line_item_id}@asyncorders>",
        )
        deliveries.append(
            Delivery(
                message.id,
                line.id,
                line.order_id,
                line.reference_line_item_id,
                message.attempts,
                outgoing,
            )
        )
    return deliveries


async def record_delivery(
    session: AsyncSession, delivery: Delivery, rules: Rules, error: str | None
) -> str | None:
    """Record how a send went; the message's new status, or None when its claim
    had expired and passed to another sender, who records its own outcome."""
    now = utcnow()
    if error is None:
        status, values = "SENT", {"status": "SENT", "sent_at": now}
    elif delivery.attempts >= MAX_SEND_ATTEMPTS:
        status, values = "FAILED", {"status": "FAILED", "last_error": error}
    else:
        retry_at = now + timedelta(seconds=2**delivery.attempts)
        status = "PENDING"
        values = {"status": status, "last_error": error, "not_before": retry_at}
    if not await repository.settle_message(
        session, delivery.message_id, rules.worker_id, **values
    ):
        return None
    if status != "PENDING":
        delivered = "DISPATCHED" if status == "SENT" else "FAILED"
        await repository.set_delivery_status(session, delivery.line_item_id, delivered)
        await repository.bump_version(session, delivery.order_id, now)
    return status


def message_body(line: LineItem, rewards: list[list[dict[str, str]]]) -> str:
    """The email (or text) to the recipient: every reward of the line in one."""
    recipient = (line.recipient or {}).get("firstName") or "there"
    what = "a reward" if len(rewards) == 1 else f"{len(rewards)} rewards"
    each = " each" if len(rewards) > 1 else ""
    lines = [
        f"Hello {recipient},",
        "",
        f"You have received {what}: {line.reward_name}, "
        f"worth {line.amount} {line.currency_code}{each}.",
    ]
    if line.message:
        lines += ["", line.message]
    for number, reward in enumerate(rewards, start=1):
        lines.append("")
        if len(rewards) > 1:
            lines.append(f"Reward {number} of {len(rewards)}:")
        lines += [f"{c['label']}: {c['value']}" for c in reward]
    return "\n".join(lines) + "\n"
