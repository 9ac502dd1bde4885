"""rewards: one row per issued reward, quantity of them per line item

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rewards",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "line_item_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "position >= 0", name=op.f("ck_rewards_position_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["line_item_id"],
            ["line_items.id"],
            name=op.f("fk_rewards_line_item_id_line_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rewards")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_rewards_fingerprint")),
        sa.UniqueConstraint(
            "line_item_id", "position", name=op.f("uq_rewards_line_item_id_position")
        ),
    )
    # Lines fulfilled before this revision got one reward, whatever their
    # quantity; it becomes their reward number 0.
    op.execute(
        "INSERT INTO rewards (line_item_id, position, credentials, fingerprint) "
        "SELECT id, 0, credentials, credential_fingerprint FROM line_items "
        "WHERE credentials IS NOT NULL AND credential_fingerprint IS NOT NULL"
    )
    with op.batch_alter_table("line_items", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_line_items_credential_fingerprint"), type_="unique"
        )
        batch_op.drop_column("credential_fingerprint")
        batch_op.drop_column("credentials")


def downgrade() -> None:
    # Only reward number 0 of each line fits the old schema; the others are lost.
    with op.batch_alter_table("line_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("credential_fingerprint", sa.String(length=64), nullable=True)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_line_items_credential_fingerprint"),
            ["credential_fingerprint"],
        )
    op.execute(
        "UPDATE line_items SET "
        "credentials = (SELECT r.credentials FROM rewards r "
        "WHERE r.line_item_id = line_items.id AND r.position = 0), "
        "credential_fingerprint = (SELECT r.fingerprint FROM rewards r "
        "WHERE r.line_item_id = line_items.id AND r.position = 0)"
    )
    op.drop_table("rewards")
