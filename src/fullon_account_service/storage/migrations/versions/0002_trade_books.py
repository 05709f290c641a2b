"""FIFO checkpoints: the open lots per (ex_id, symbol) after its newest stored fill.

Our own table (fullon has none); see ``storage.db.models.TradeBook``. Nothing to backfill: a
symbol without a checkpoint row is rebuilt from its stored trades on its next fill.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("trade_books"):
        return
    op.create_table(
        "trade_books",
        sa.Column("ex_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("last_time_ms", BIG_ID, nullable=False),
        sa.Column("last_ex_trade_id", sa.String(128), nullable=False),
        sa.Column("last_ex_order_id", sa.String(128), nullable=False),
        sa.Column("volume", sa.Double(), nullable=False),
        sa.Column("lots", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("ex_id", "symbol", name="pk_trade_books"),
    )


def downgrade() -> None:
    op.drop_table("trade_books")
