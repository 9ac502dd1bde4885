"""Queries of fulfilment: claiming orders, locking their pending lines, finishing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from asyncorders.storage.tables import (
    Account,
    AsyncOrder,
    LedgerEntry,
    LineItem,
    OutboxMessage,
    Reward,
)


async def lock_claimable(session: AsyncSession, now: datetime) -> AsyncOrder | None:
    """The order whose turn it is: PENDING, or PROCESSING without a live lease.

    Oldest turn first; rows another worker holds are skipped, not waited for.
    """
    return await session.scalar(
        select(AsyncOrder)
        .where(
            AsyncOrder.status.in_(("PENDING", "PROCESSING")),
            or_(
                AsyncOrder.status == "PENDING",
                AsyncOrder.lease_expires_at.is_(None),
                AsyncOrder.lease_expires_at < now,
            ),
        )
        .order_by(AsyncOrder.available_at, AsyncOrder.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


async def renew_lease(
    session: AsyncSession, order_id: int, owner: str, until: datetime
) -> bool:
    result = await session.execute(
        update(AsyncOrder)
        .where(AsyncOrder.id == order_id, AsyncOrder.lease_owner == owner)
        .values(lease_expires_at=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def lock_pending_lines(
    session: AsyncSession, order_id: int, limit: int
) -> list[LineItem]:
    result = await session.scalars(
        select(LineItem)
        .where(LineItem.order_id == order_id, LineItem.status == "PENDING")
        .order_by(LineItem.position)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(result)


async def taken_fingerprints(session: AsyncSession, candidates: list[str]) -> set[str]:
    if not candidates:
        return set()
    result = await session.scalars(
        select(Reward.fingerprint).where(Reward.fingerprint.in_(candidates))
    )
    return set(result)


async def add_rewards(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Reward), rows)


async def sealed_rewards(
    session: AsyncSession, line_ids: list[int]
) -> dict[int, list[bytes]]:
    """Each line's encrypted rewards, in their order."""
    if not line_ids:
        return {}
    rows = await session.execute(
        select(Reward.line_item_id, Reward.credentials)
        .where(Reward.line_item_id.in_(line_ids))
        .order_by(Reward.line_item_id, Reward.position)
    )
    rewards: dict[int, list[bytes]] = {}
    for line_id, sealed in rows:
        rewards.setdefault(line_id, []).append(sealed)
    return rewards


async def save_lines(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk update by primary key."""
    if rows:
        await session.execute(update(LineItem), rows)


async def add_outbox(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(OutboxMessage), rows)


async def refund(
    session: AsyncSession,
    account_id: int,
    order_id: int,
    amounts: dict[int, Decimal],
    now: datetime,
) -> None:
    """One REFUND ledger entry per failed line, and the balance raised by their sum."""
    if not amounts:
        return
    await session.execute(
        insert(LedgerEntry),
        [
            {
                "account_id": account_id,
                "kind": "REFUND",
                "amount": amount,
                "order_id": order_id,
                "line_item_id": line_id,
                "created_at": now,
            }
            for line_id, amount in amounts.items()
        ],
    )
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(balance=Account.balance + sum(amounts.values()))
    )


async def line_counts(session: AsyncSession, order_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(LineItem.status, func.count())
        .where(LineItem.order_id == order_id)
        .group_by(LineItem.status)
    )
    return {status: count for status, count in rows}  # noqa: C416 (Row objects)


async def release(
    session: AsyncSession, order_id: int, owner: str, now: datetime
) -> None:
    """Give the order back to the queue, behind everything already waiting."""
    await session.execute(
        update(AsyncOrder)
        .where(AsyncOrder.id == order_id, AsyncOrder.lease_owner == owner)
        .values(
            lease_owner=None,
            lease_expires_at=None,
            available_at=now,
            version=AsyncOrder.version + 1,
            updated_at=now,
        )
    )


async def finish(
    session: AsyncSession, order_id: int, status: str, now: datetime
) -> bool:
    result = await session.execute(
        update(AsyncOrder)
        .where(AsyncOrder.id == order_id, AsyncOrder.status == "PROCESSING")
        .values(
            status=status,
            completed_at=now,
            lease_owner=None,
            lease_expires_at=None,
            version=AsyncOrder.version + 1,
            updated_at=now,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim_due_messages(
    session: AsyncSession,
    channels: list[str],
    now: datetime,
    limit: int,
    claimer: str,
    until: datetime,
) -> list[OutboxMessage]:
    """Mark due messages SENDING for `claimer` until `until`, and return them.

    Due: PENDING once `not_before` has come, or SENDING with an expired claim
    (its sender died). Rows another sender is claiming are skipped.
    """
    if not channels:
        return []
    result = await session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel.in_(channels),
            or_(
                and_(
                    OutboxMessage.status == "PENDING",
                    OutboxMessage.not_before <= now,
                ),
                and_(
                    OutboxMessage.status == "SENDING",
                    OutboxMessage.claim_expires_at < now,
                ),
            ),
        )
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    messages = list(result)
    for message in messages:
        message.status = "SENDING"
        message.claimed_by = claimer
        message.claim_expires_at = until
        message.attempts += 1
    await session.flush()
    return messages


async def settle_message(
    session: AsyncSession, message_id: int, claimer: str, **values: Any
) -> bool:
    """Record a send's outcome, unless the claim has passed to another sender."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "SENDING",
            OutboxMessage.claimed_by == claimer,
        )
        .values(claimed_by=None, claim_expires_at=None, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def set_delivery_status(
    session: AsyncSession, line_item_id: int, delivery_status: str
) -> None:
    await session.execute(
        update(LineItem)
        .where(LineItem.id == line_item_id)
        .values(delivery_status=delivery_status)
    )


async def bump_version(session: AsyncSession, order_id: int, now: datetime) -> None:
    """The order changed as its GET shows it, so its ETag must change too."""
    await session.execute(
        update(AsyncOrder)
        .where(AsyncOrder.id == order_id)
        .values(version=AsyncOrder.version + 1, updated_at=now)
    )


async def lines_by_id(session: AsyncSession, ids: list[int]) -> dict[int, LineItem]:
    if not ids:
        return {}
    result = await session.scalars(select(LineItem).where(LineItem.id.in_(ids)))
    return {line.id: line for line in result}
