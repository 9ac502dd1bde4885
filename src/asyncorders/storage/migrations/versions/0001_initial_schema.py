"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-12-03 19:33:15.814333
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import asyncorders.storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "brands",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("brand_key", sa.String(length=32), nullable=False),
        sa.Column("brand_name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=False),
        sa.Column("short_description", sa.String(length=1000), nullable=False),
        sa.Column("disclaimer", sa.String(length=4000), nullable=False),
        sa.Column("terms", sa.String(length=4000), nullable=False),
        sa.Column("image_urls", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brands")),
        sa.UniqueConstraint("brand_key", name=op.f("uq_brands_brand_key")),
    )
    op.create_table(
        "platforms",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("name", name=op.f("uq_platforms_name")),
    )
    op.create_table(
        "api_keys",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column(
            "platform_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "revoked_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_api_keys_platform_id_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("public_id", name=op.f("uq_api_keys_public_id")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_platform_id"), ["platform_id"], unique=False
        )

    op.create_table(
        "catalog_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "brand_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("utid", sa.String(length=32), nullable=False),
        sa.Column("reward_name", sa.String(length=200), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("reward_type", sa.String(length=32), nullable=False),
        sa.Column(
            "face_value",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=True,
        ),
        sa.Column(
            "min_value",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=True,
        ),
        sa.Column(
            "max_value",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=True,
        ),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("credential_types", sa.JSON(), nullable=False),
        sa.Column("redemption_instructions", sa.String(length=4000), nullable=False),
        sa.Column("fulfilment", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "fulfilment IN ('NORMAL', 'ALWAYS_FAIL')",
            name=op.f("ck_catalog_items_fulfilment"),
        ),
        sa.CheckConstraint(
            "value_type IN ('FIXED_VALUE', 'VARIABLE_VALUE')",
            name=op.f("ck_catalog_items_value_type"),
        ),
        sa.ForeignKeyConstraint(
            ["brand_id"], ["brands.id"], name=op.f("fk_catalog_items_brand_id_brands")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("utid", name=op.f("uq_catalog_items_utid")),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_items_brand_id"), ["brand_id"], unique=False
        )

    op.create_table(
        "customers",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "platform_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("identifier", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_customers_platform_id_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "platform_id",
            "identifier",
            name=op.f("uq_customers_platform_id_identifier"),
        ),
    )
    op.create_table(
        "accounts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "platform_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "customer_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("identifier", sa.String(length=100), nullable=False),
        sa.Column("account_number", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "balance",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "balance >= 0", name=op.f("ck_accounts_balance_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_accounts_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_accounts_platform_id_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("account_number", name=op.f("uq_accounts_account_number")),
        sa.UniqueConstraint(
            "platform_id", "identifier", name=op.f("uq_accounts_platform_id_identifier")
        ),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "async_orders",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reference_order_id", sa.String(length=32), nullable=False),
        sa.Column(
            "platform_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("customer_identifier", sa.String(length=100), nullable=False),
        sa.Column("account_identifier", sa.String(length=100), nullable=False),
        sa.Column("account_number", sa.String(length=32), nullable=False),
        sa.Column("external_ref_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("campaign", sa.String(length=1024), nullable=True),
        sa.Column("purchase_order_number", sa.String(length=255), nullable=True),
        sa.Column("notes", sa.String(length=150), nullable=True),
        sa.Column("sender", sa.JSON(), nullable=True),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column(
            "amount_charged",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=False,
        ),
        sa.Column("total_line_items", sa.Integer(), nullable=False),
        sa.Column("failed_line_items", sa.JSON(), nullable=False),
        sa.Column("duplicate_line_item_ref_ids", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "completed_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'PARTIAL', 'FAILED')",
            name=op.f("ck_async_orders_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_async_orders_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_async_orders_platform_id_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_async_orders")),
        sa.UniqueConstraint(
            "platform_id",
            "account_identifier",
            "external_ref_id",
            name=op.f("uq_async_orders_platform_id_account_identifier_external_ref_id"),
        ),
        sa.UniqueConstraint(
            "reference_order_id", name=op.f("uq_async_orders_reference_order_id")
        ),
    )
    with op.batch_alter_table("async_orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_async_orders_by_account",
            ["platform_id", "account_identifier", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_async_orders_by_campaign",
            ["campaign"],
            unique=False,
            postgresql_using="hash",
        )
        batch_op.create_index(
            "ix_async_orders_by_customer",
            ["platform_id", "customer_identifier", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_async_orders_by_external_ref",
            ["platform_id", "external_ref_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_async_orders_by_purchase_order",
            ["platform_id", "purchase_order_number", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_async_orders_by_status",
            ["platform_id", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_async_orders_listing", ["platform_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "line_items",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "order_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reference_line_item_id", sa.String(length=48), nullable=False),
        sa.Column("external_ref_line_item_id", sa.String(length=100), nullable=False),
        sa.Column("utid", sa.String(length=32), nullable=False),
        sa.Column("reward_name", sa.String(length=200), nullable=True),
        sa.Column(
            "amount",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=False,
        ),
        sa.Column("currency_code", sa.String(length=3), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "amount_charged",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=False,
        ),
        sa.Column("delivery_method", sa.String(length=24), nullable=False),
        sa.Column("recipient", sa.JSON(), nullable=True),
        sa.Column(
            "delivery_date",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("etid", sa.String(length=16), nullable=False),
        sa.Column("ptid", sa.String(length=32), nullable=True),
        sa.Column("email_subject", sa.String(length=255), nullable=True),
        sa.Column("message", sa.String(length=1024), nullable=True),
        sa.Column("line_item_note", sa.String(length=150), nullable=True),
        sa.Column("shipping_method", sa.String(length=32), nullable=True),
        sa.Column("expiration_date", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("delivery_status", sa.String(length=16), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column(
            "date_issued",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'COMPLETE', 'FAILED')",
            name=op.f("ck_line_items_status"),
        ),
        sa.CheckConstraint(
            "quantity >= 1", name=op.f("ck_line_items_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["async_orders.id"],
            name=op.f("fk_line_items_order_id_async_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_items")),
        sa.UniqueConstraint(
            "order_id",
            "external_ref_line_item_id",
            name=op.f("uq_line_items_order_id_external_ref_line_item_id"),
        ),
        sa.UniqueConstraint(
            "order_id", "position", name=op.f("uq_line_items_order_id_position")
        ),
        sa.UniqueConstraint(
            "reference_line_item_id", name=op.f("uq_line_items_reference_line_item_id")
        ),
    )
    op.create_table(
        "order_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "order_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "occurred_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "platform_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "api_key_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_order_events_api_key_id_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["async_orders.id"],
            name=op.f("fk_order_events_order_id_async_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_order_events_platform_id_platforms"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index("ix_order_events_order", ["order_id", "id"], unique=False)

    op.create_table(
        "ledger_entries",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "amount",
            asyncorders.storage.types.Money(precision=18, scale=2),
            nullable=False,
        ),
        sa.Column(
            "order_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "line_item_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("note", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('FUND', 'CHARGE', 'REFUND')", name=op.f("ck_ledger_entries_kind")
        ),
        sa.CheckConstraint(
            "amount > 0", name=op.f("ck_ledger_entries_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_ledger_entries_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["line_items.id"],
            name=op.f("fk_ledger_entries_line_item_id_line_items"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["async_orders.id"],
            name=op.f("fk_ledger_entries_order_id_async_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            "uq_ledger_entries_one_charge_per_order",
            ["order_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'CHARGE'"),
            postgresql_where=sa.text("kind = 'CHARGE'"),
        )
        batch_op.create_index(
            "uq_ledger_entries_one_refund_per_line_item",
            ["line_item_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'REFUND'"),
            postgresql_where=sa.text("kind = 'REFUND'"),
        )


def downgrade() -> None:

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ledger_entries_one_refund_per_line_item",
            sqlite_where=sa.text("kind = 'REFUND'"),
            postgresql_where=sa.text("kind = 'REFUND'"),
        )
        batch_op.drop_index(
            "uq_ledger_entries_one_charge_per_order",
            sqlite_where=sa.text("kind = 'CHARGE'"),
            postgresql_where=sa.text("kind = 'CHARGE'"),
        )
        batch_op.drop_index(batch_op.f("ix_ledger_entries_account_id"))

    op.drop_table("ledger_entries")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index("ix_order_events_order")

    op.drop_table("order_events")
    op.drop_table("line_items")
    with op.batch_alter_table("async_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_async_orders_listing")
        batch_op.drop_index("ix_async_orders_by_status")
        batch_op.drop_index("ix_async_orders_by_purchase_order")
        batch_op.drop_index("ix_async_orders_by_external_ref")
        batch_op.drop_index("ix_async_orders_by_customer")
        batch_op.drop_index("ix_async_orders_by_campaign", postgresql_using="hash")
        batch_op.drop_index("ix_async_orders_by_account")

    op.drop_table("async_orders")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_customer_id"))

    op.drop_table("accounts")
    op.drop_table("customers")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_items_brand_id"))

    op.drop_table("catalog_items")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_platform_id"))

    op.drop_table("api_keys")
    op.drop_table("platforms")
    op.drop_table("brands")
