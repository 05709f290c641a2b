"""Initial schema: users, cat_exchanges, exchanges, orders, trades.

fullon_orm's names, plus exchanges.force_rest, the orders (ex_id, ex_order_id) unique key and the
order/trade fields the event contract carries (see ``storage.db.models``). A table that exists
already (a database fullon_orm created) is left as it is: revision 0003 adds what ours needs.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def _double(name: str, nullable: bool = True) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=nullable)


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for table, create in _TABLES:
        if table not in existing:
            create()


def _users() -> None:
    op.create_table(
        "users",
        sa.Column("uid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mail", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("lastname", sa.String(255), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("timestamp", UTC_TIME, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("uid", name="pk_users"),
        sa.UniqueConstraint("mail", name="uq_users_mail"),
    )


def _cat_exchanges() -> None:
    op.create_table(
        "cat_exchanges",
        sa.Column("cat_ex_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("cat_ex_id", name="pk_cat_exchanges"),
        sa.UniqueConstraint("name", name="uq_cat_exchanges_name"),
    )


def _exchanges() -> None:
    op.create_table(
        "exchanges",
        sa.Column("ex_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("cat_ex_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("test", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("force_rest", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("timestamp", UTC_TIME, server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cat_ex_id"], ["cat_exchanges.cat_ex_id"], name="fk_exchanges_cat_ex_id_cat_exchanges"
        ),
        sa.ForeignKeyConstraint(["uid"], ["users.uid"], name="fk_exchanges_uid_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ex_id", name="pk_exchanges"),
        sa.UniqueConstraint("uid", "cat_ex_id", "name", name="uq_exchanges_uid_cat_ex_id_name"),
    )
    op.create_index("ix_exchanges_uid", "exchanges", ["uid"])


def _orders() -> None:
    op.create_table(
        "orders",
        sa.Column("order_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=True),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("ex_id", sa.Integer(), nullable=False),
        sa.Column("ex_order_id", sa.String(128), nullable=False),
        sa.Column("cat_ex_id", sa.Integer(), nullable=True),
        sa.Column("exchange", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        _double("volume"),
        _double("final_volume"),
        _double("price"),
        _double("plimit"),
        sa.Column("futures", sa.Boolean(), nullable=False),
        _double("leverage"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("command", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(256), nullable=True),
        sa.Column("timestamp", UTC_TIME, server_default=sa.func.now(), nullable=False),
        sa.Column("client_order_id", sa.String(256), nullable=True),
        _double("filled"),
        _double("remaining"),
        _double("average"),
        _double("fee"),
        sa.Column("fee_currency", sa.String(32), nullable=True),
        sa.Column("reduce_only", sa.Boolean(), nullable=True),
        sa.Column("created_ms", BIG_ID, nullable=True),
        sa.Column("updated_ms", BIG_ID, nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name="pk_orders"),
        sa.UniqueConstraint("ex_id", "ex_order_id", name="uq_orders_ex_id_ex_order_id"),
    )
    op.create_index("ix_orders_ex_id_timestamp", "orders", ["ex_id", "timestamp"])


def _trades() -> None:
    op.create_table(
        "trades",
        sa.Column("trade_id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("ex_trade_id", sa.String(128), nullable=False),
        sa.Column("ex_order_id", sa.String(128), nullable=False),
        sa.Column("uid", sa.Integer(), nullable=False),
        sa.Column("ex_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("order_type", sa.String(32), nullable=True),
        sa.Column("side", sa.String(8), nullable=False),
        _double("volume", nullable=False),
        _double("price", nullable=False),
        _double("cost", nullable=False),
        _double("fee"),
        _double("cur_volume"),
        _double("cur_avg_price"),
        _double("cur_avg_cost"),
        _double("cur_fee"),
        _double("roi"),
        _double("roi_pct"),
        _double("total_fee"),
        _double("leverage"),
        sa.Column("time", UTC_TIME, nullable=False),
        sa.Column("time_ms", BIG_ID, nullable=False),
        sa.Column("fee_currency", sa.String(32), nullable=True),
        sa.Column("liquidity", sa.String(8), nullable=True),
        sa.Column("exchange", sa.String(64), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("trade_id", name="pk_trades"),
        sa.UniqueConstraint("ex_trade_id", "ex_order_id", name="uq_trades_ex_trade_id_ex_order_id"),
    )
    op.create_index("ix_trades_ex_id_symbol_time_ms", "trades", ["ex_id", "symbol", "time_ms"])
    op.create_index("ix_trades_ex_id_time", "trades", ["ex_id", "time"])


_TABLES = (
    ("users", _users),
    ("cat_exchanges", _cat_exchanges),
    ("exchanges", _exchanges),
    ("orders", _orders),
    ("trades", _trades),
)


def downgrade() -> None:
    op.drop_table("trades")
    op.drop_table("orders")
    op.drop_index("ix_exchanges_uid", table_name="exchanges")
    op.drop_table("exchanges")
    op.drop_table("cat_exchanges")
    op.drop_table("users")
