"""The ledger: balance changes that are not fills, one row per (ex_id, ex_ledger_id, currency).

Our own table (fullon has none); see ``storage.db.models.Ledger``. Nothing to backfill: entries
arrive from the ``ledger`` stream.

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("ledger"):
        return
    op.create_table(
        "ledger",
        sa.Column("ledger_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ex_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("exchange", sa.String(64), nullable=False),
        sa.Column("ex_ledger_id", sa.String(256), nullable=False),
        sa.Column("currency", sa.String(32), nullable=False),
        sa.Column("amount", sa.Double(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("time_ms", BIG_ID, nullable=False),
        sa.Column("raw_type", sa.String(256), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("balance_after", sa.Double(), nullable=True),
        sa.Column("fee", sa.Double(), nullable=True),
        sa.Column("fee_currency", sa.String(32), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("ledger_id", name="pk_ledger"),
        sa.UniqueConstraint(
            "ex_id", "ex_ledger_id", "currency", name="uq_ledger_ex_id_ex_ledger_id_currency"
        ),
    )
    op.create_index("ix_ledger_ex_id_time_ms", "ledger", ["ex_id", "time_ms"])
    op.create_index("ix_ledger_ex_id_symbol", "ledger", ["ex_id", "symbol"])


def downgrade() -> None:
    op.drop_index("ix_ledger_ex_id_symbol", table_name="ledger")
    op.drop_index("ix_ledger_ex_id_time_ms", table_name="ledger")
    op.drop_table("ledger")
