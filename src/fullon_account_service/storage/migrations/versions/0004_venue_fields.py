"""Venue fields: the trigger price of trigger orders, the kind of a venue-initiated fill.

``orders.trigger_price``: the price that triggers a stop / take-profit / trailing order.
``trades.exec_kind``: ``liquidation``, ``bust``, ``adl`` or ``settlement`` for fills the venue
initiated; NULL for an ordinary trade (and for every fill stored before this revision).

Revision ID: 0004
Revises: 0003
Create Date: 2025-01-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("trigger_price", sa.Double(), nullable=True))
    op.add_column("trades", sa.Column("exec_kind", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("exec_kind")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("trigger_price")
