"""fulfilment

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 19:37:50.287219
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import asyncorders.storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "line_item_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column(
            "not_before",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "sent_at",
            asyncorders.storage.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.CheckConstraint(
            "status IN ('RECORDED', 'PENDING', 'SENT', 'FAILED')",
            name=op.f("ck_outbox_messages_status"),
        ),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["line_items.id"],
            name=op.f("fk_outbox_messages_line_item_id_line_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint(
            "line_item_id",
            "channel",
            name=op.f("uq_outbox_messages_line_item_id_channel"),
        ),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_due", ["status", "not_before"], unique=False
        )

    with op.batch_alter_table("async_orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "available_at",
                asyncorders.storage.types.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("lease_owner", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "lease_expires_at",
                asyncorders.storage.types.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
    # Orders accepted before this revision join the queue in their creation order.
    op.execute("UPDATE async_orders SET available_at = created_at")
    with op.batch_alter_table("async_orders", schema=None) as batch_op:
        batch_op.alter_column("available_at", nullable=False)
        batch_op.create_index(
            "ix_async_orders_claimable",
            ["available_at"],
            unique=False,
            sqlite_where=sa.text("status IN ('PENDING', 'PROCESSING')"),
            postgresql_where=sa.text("status IN ('PENDING', 'PROCESSING')"),
        )

    with op.batch_alter_table("line_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("credential_fingerprint", sa.String(length=64), nullable=True)
        )
        batch_op.create_index(
            "ix_line_items_pending", ["order_id", "status", "position"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_line_items_credential_fingerprint"),
            ["credential_fingerprint"],
        )


def downgrade() -> None:
    with op.batch_alter_table("line_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_line_items_credential_fingerprint"), type_="unique"
        )
        batch_op.drop_index("ix_line_items_pending")
        batch_op.drop_column("credential_fingerprint")
        batch_op.drop_column("credentials")

    with op.batch_alter_table("async_orders", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_async_orders_claimable",
            sqlite_where=sa.text("status IN ('PENDING', 'PROCESSING')"),
            postgresql_where=sa.text("status IN ('PENDING', 'PROCESSING')"),
        )
        batch_op.drop_column("lease_expires_at")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("available_at")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_due")

    op.drop_table("outbox_messages")
