"""outbox send claims

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 22:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import asyncorders.storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_by", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "claim_expires_at",
                asyncorders.storage.types.UtcDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_outbox_messages_status"),
            "status IN ('RECORDED', 'PENDING', 'SENDING', 'SENT', 'FAILED')",
        )


def downgrade() -> None:
    # A message some sender had claimed goes back to the queue; it is sent again
    # with the same Message-ID.
    op.execute("UPDATE outbox_messages SET status = 'PENDING' WHERE status = 'SENDING'")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_outbox_messages_status"),
            "status IN ('RECORDED', 'PENDING', 'SENT', 'FAILED')",
        )
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")
