"""The database schema: one mapped class per table.

Queries live in the repositories of each domain package; this module only says
what is stored and which constraints protect it. Every change here needs a
migration under `storage/migrations/versions`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from asyncorders.storage.types import Money, UtcDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64 bits.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        Decimal: Money(),
    }


class Platform(Base):
    """A tenant. Its rate limit overrides the deployment default when set."""

    __tablename__ = "platforms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime]
    rate_limit_per_second: Mapped[float | None]
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer)


class ServiceFlag(Base):
    """Deployment-wide switches every process reads, such as maintenance mode."""

    __tablename__ = "service_flags"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class ApiKey(Base):
    """A platform's API key, kept only as a keyed hash."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("platform_id", "identifier"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    identifier: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("platform_id", "identifier"),
        CheckConstraint("balance >= 0", name="balance_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    identifier: Mapped[str] = mapped_column(String(100))
    account_number: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    contact_email: Mapped[str] = mapped_column(String(254))
    currency_code: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    balance: Mapped[Decimal]
    created_at: Mapped[datetime]


class LedgerEntry(Base):
    """One movement of money on an account; the balance is their running sum.

    Partial unique indexes make a second charge of an order, or a second refund
    of a line item, impossible whatever the code does.
    """

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("kind IN ('FUND', 'CHARGE', 'REFUND')", name="kind"),
        Index(
            "uq_ledger_entries_one_charge_per_order",
            "order_id",
            unique=True,
            sqlite_where=text("kind = 'CHARGE'"),
            postgresql_where=text("kind = 'CHARGE'"),
        ),
        Index(
            "uq_ledger_entries_one_refund_per_line_item",
            "line_item_id",
            unique=True,
            sqlite_where=text("kind = 'REFUND'"),
            postgresql_where=text("kind = 'REFUND'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("async_orders.id"))
    line_item_id: Mapped[int | None] = mapped_column(ForeignKey("line_items.id"))
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Brand(Base):
    __tablename__ = "brands"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_key: Mapped[str] = mapped_column(String(32), unique=True)
    brand_name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(4000), default="")
    short_description: Mapped[str] = mapped_column(String(1000), default="")
    disclaimer: Mapped[str] = mapped_column(String(4000), default="")
    terms: Mapped[str] = mapped_column(String(4000), default="")
    image_urls: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CatalogItem(Base):
    """A reward a line item can order, by its `utid`.

    `fulfilment` is `NORMAL`, or `ALWAYS_FAIL` for sandbox items whose fulfilment
    fails on purpose.
    """

    __tablename__ = "catalog_items"
    __table_args__ = (
        CheckConstraint(
            "value_type IN ('FIXED_VALUE', 'VARIABLE_VALUE')", name="value_type"
        ),
        CheckConstraint("fulfilment IN ('NORMAL', 'ALWAYS_FAIL')", name="fulfilment"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brands.id"), index=True)
    utid: Mapped[str] = mapped_column(String(32), unique=True)
    reward_name: Mapped[str] = mapped_column(String(200))
    currency_code: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    value_type: Mapped[str] = mapped_column(String(16))
    reward_type: Mapped[str] = mapped_column(String(32))
    face_value: Mapped[Decimal | None]
    min_value: Mapped[Decimal | None]
    max_value: Mapped[Decimal | None]
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    credential_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    redemption_instructions: Mapped[str] = mapped_column(String(4000), default="")
    fulfilment: Mapped[str] = mapped_column(String(16), default="NORMAL")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AsyncOrder(Base):
    """An async order. Customer and account identifiers are copied in: they never
    change, and the lookups and filters of the API then need no join.

    `version` grows with every change of the order and is its ETag.
    """

    __tablename__ = "async_orders"
    __table_args__ = (
        UniqueConstraint("platform_id", "account_identifier", "external_ref_id"),
        Index("ix_async_orders_listing", "platform_id", "created_at", "id"),
        Index(
            "ix_async_orders_by_account",
            "platform_id",
            "account_identifier",
            "created_at",
            "id",
        ),
        Index(
            "ix_async_orders_by_customer",
            "platform_id",
            "customer_identifier",
            "created_at",
            "id",
        ),
        Index("ix_async_orders_by_status", "platform_id", "status", "created_at", "id"),
        Index(
            "ix_async_orders_by_external_ref",
            "platform_id",
            "external_ref_id",
            "created_at",
            "id",
        ),
        Index(
            "ix_async_orders_by_purchase_order",
            "platform_id",
            "purchase_order_number",
            "created_at",
            "id",
        ),
        Index(
            "ix_async_orders_claimable",
            "available_at",
            sqlite_where=text("status IN ('PENDING', 'PROCESSING')"),
            postgresql_where=text("status IN ('PENDING', 'PROCESSING')"),
        ),
        CheckConstraint(
            "status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'PARTIAL', 'FAILED')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference_order_id: Mapped[str] = mapped_column(String(32), unique=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    customer_identifier: Mapped[str] = mapped_column(String(100))
    account_identifier: Mapped[str] = mapped_column(String(100))
    account_number: Mapped[str] = mapped_column(String(32))
    external_ref_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    campaign: Mapped[str | None] = mapped_column(String(1024))
    purchase_order_number: Mapped[str | None] = mapped_column(String(255))
    notes: Mapped[str | None] = mapped_column(String(150))
    sender: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    currency_code: Mapped[str] = mapped_column(String(3))
    amount_charged: Mapped[Decimal]
    total_line_items: Mapped[int]
    failed_line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    duplicate_line_item_ref_ids: Mapped[dict[str, int]] = mapped_column(JSON)
    version: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # Fulfilment: the order's place in the queue (oldest turn first) and the
    # lease of the worker fulfilling its current batch.
    available_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


# A campaign may be 1024 characters of any script, too wide for a PostgreSQL
# b-tree entry, so the campaign filter is served by an index on its first
# characters (the query compares the whole value too). The constants are inline
# so that both databases match the query's expression to the index's.
CAMPAIGN_PREFIX = 200


def campaign_prefix(campaign: Any) -> Any:
    return func.substr(
        campaign, literal_column("1"), literal_column(str(CAMPAIGN_PREFIX))
    )


Index(
    "ix_async_orders_by_campaign",
    AsyncOrder.platform_id,
    campaign_prefix(AsyncOrder.campaign),
    AsyncOrder.created_at,
    AsyncOrder.id,
)


class LineItem(Base):
    """A line of an order. Its `quantity` rewards, once issued, are `Reward` rows."""

    __tablename__ = "line_items"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        Index("ix_line_items_pending", "order_id", "status", "position"),
        UniqueConstraint("order_id", "external_ref_line_item_id"),
        CheckConstraint("status IN ('PENDING', 'COMPLETE', 'FAILED')", name="status"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("async_orders.id"))
    position: Mapped[int] = mapped_column(Integer)
    reference_line_item_id: Mapped[str] = mapped_column(String(48), unique=True)
    external_ref_line_item_id: Mapped[str] = mapped_column(String(100))
    utid: Mapped[str] = mapped_column(String(32))
    reward_name: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[Decimal]
    currency_code: Mapped[str] = mapped_column(String(3))
    quantity: Mapped[int] = mapped_column(Integer)
    amount_charged: Mapped[Decimal]
    delivery_method: Mapped[str] = mapped_column(String(24))
    recipient: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    delivery_date: Mapped[datetime | None]
    etid: Mapped[str] = mapped_column(String(16))
    ptid: Mapped[str | None] = mapped_column(String(32))
    email_subject: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(String(1024))
    line_item_note: Mapped[str | None] = mapped_column(String(150))
    shipping_method: Mapped[str | None] = mapped_column(String(32))
    expiration_date: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    delivery_status: Mapped[str] = mapped_column(String(16))
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    date_issued: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Reward(Base):
    """One reward issued for a line item: a line of quantity 3 has three,
    numbered from 0, all issued in the same transaction.

    The credentials are stored encrypted (Fernet). The keyed fingerprint of the
    reward's first credential is unique in the database, so no credential is
    ever issued twice, whatever the code does.
    """

    __tablename__ = "rewards"
    __table_args__ = (
        UniqueConstraint("line_item_id", "position"),
        CheckConstraint("position >= 0", name="position_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("line_items.id"))
    position: Mapped[int] = mapped_column(Integer)
    credentials: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)


class OrderEvent(Base):
    """One entry of an order's audit trail (the `/history` extension).

    `changes` lists `{"field", "old", "new"}`; who made the change is the
    platform, key and request, or none of them for the service's own work.
    """

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("async_orders.id"))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("platforms.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    request_id: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class OutboxMessage(Base):
    """A message to a recipient, written in the same transaction that issues the
    reward. It holds no credential: the sender reads those from the rewards.

    `status` is `RECORDED` (sandbox: kept, never sent), `PENDING` (waiting for a
    transport), `SENDING` (claimed by `claimed_by` until `claim_expires_at`;
    the send runs outside any transaction, and a claim that expires is taken
    again), `SENT` or `FAILED`. One message per line item and channel.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("line_item_id", "channel"),
        Index("ix_outbox_messages_due", "status", "not_before"),
        CheckConstraint(
            "status IN ('RECORDED', 'PENDING', 'SENDING', 'SENT', 'FAILED')",
            name="status",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_item_id: Mapped[int] = mapped_column(ForeignKey("line_items.id"))
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    not_before: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[datetime | None]
