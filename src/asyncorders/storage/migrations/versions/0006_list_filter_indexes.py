"""list filter indexes that also give the list's order

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 22:40:00.000000

The externalRefID filter gets the list's sort columns, and the campaign filter a
tenant-first index on the campaign's first 200 characters (the hash index on the
whole value served every platform at once and sorted afterwards).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTING = ["created_at", "id"]


def upgrade() -> None:
    op.drop_index("ix_async_orders_by_external_ref", table_name="async_orders")
    op.create_index(
        "ix_async_orders_by_external_ref",
        "async_orders",
        ["platform_id", "external_ref_id", *LISTING],
    )
    op.drop_index("ix_async_orders_by_campaign", table_name="async_orders")
    op.create_index(
        "ix_async_orders_by_campaign",
        "async_orders",
        ["platform_id", sa.text("substr(campaign, 1, 200)"), *LISTING],
    )


def downgrade() -> None:
    op.drop_index("ix_async_orders_by_campaign", table_name="async_orders")
    op.create_index(
        "ix_async_orders_by_campaign",
        "async_orders",
        ["campaign"],
        postgresql_using="hash",
    )
    op.drop_index("ix_async_orders_by_external_ref", table_name="async_orders")
    op.create_index(
        "ix_async_orders_by_external_ref",
        "async_orders",
        ["platform_id", "external_ref_id"],
    )
