"""One database with fullon_orm: fullon's columns, types and defaults on our tables, ours on its.

Converges by inspection, so it works from each starting point: a fresh database (0001 and 0002
just ran), a database of ours at 0002, and a database fullon_orm created (0001 and 0002 left its
tables alone). It never drops or rewrites a fullon column. Being driven by what it finds, it
needs a live connection (no offline ``--sql`` script).

- Columns one side lacks are added: fullon's (``users.password``, ``f2a``, ``phone``,
  ``id_num``, ``note``, ``manager``; ``cat_exchanges.ohlcv_view``; ``orders.tick``;
  ``trades.cat_ex_id``), nullable; ours on fullon's tables (``exchanges.force_rest``, the order
  and trade fields of the event contract, ``trades.time_ms``).
- ``orders.ex_order_id`` becomes nullable (a fullon bot writes its order before the venue gave an
  id; NULLs never collide in the unique key). ``trades.time_ms`` becomes nullable and a trigger
  fills it from ``time`` when a writer leaves it out (fullon does); existing rows are backfilled.
- Keys: UNIQUE ``orders(ex_id, ex_order_id)`` (our upsert needs it; if fullon's rows already
  repeat a key the migration stops and says so, since choosing which row to delete is not ours
  to do) and UNIQUE ``trades(ex_trade_id, ex_order_id)``, plus our indexes.
- PostgreSQL: the timestamps of these tables become ``timestamp without time zone`` holding UTC
  (fullon's type); defaults ``users.active`` true, ``exchanges.test`` false, ``exchanges.active``
  true, timestamps the UTC now. SQLite stores naive UTC already; its defaults are the ones 0001
  creates (changing one there means copying ``users``, whose deletion cascades to ``exchanges``).

Downgrade is refused on a database shared with fullon_orm (``alembic_version`` present: it would
take fullon's tables with it further down). Otherwise it reverts types, nullability and the
trigger, and keeps the added nullable columns (harmless, and dropping data is never a default).

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from fullon_account_service.errors import FatalError
from fullon_account_service.storage.db.column_types import utc_now
from fullon_account_service.storage.db.time_ms_trigger import PG_FUNCTION, SQLITE_MS, TRIGGER, time_ms_trigger

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMPS = (("users", "timestamp"), ("exchanges", "timestamp"), ("orders", "timestamp"), ("trades", "time"))
UNIQUE_KEYS = (("orders", ("ex_id", "ex_order_id")), ("trades", ("ex_trade_id", "ex_order_id")))
INDEXES = (
    ("exchanges", ("uid",)),
    ("orders", ("ex_id", "timestamp")),
    ("trades", ("ex_id", "symbol", "time_ms")),
    ("trades", ("ex_id", "time")),
)
_BACKFILL = {
    "postgresql": "UPDATE trades SET time_ms = floor(extract(epoch FROM time) * 1000)::bigint "
    "WHERE time_ms IS NULL AND time IS NOT NULL",
    "sqlite": f"UPDATE trades SET time_ms = {SQLITE_MS.format(t='time')} "
    "WHERE time_ms IS NULL AND time IS NOT NULL",
}


def _columns() -> dict[str, list[sa.Column[object]]]:
    """Every column either side may lack, fresh objects on each call (a Column joins one table)."""

    def text(name: str, length: int | None = None) -> sa.Column[object]:
        return sa.Column(name, sa.String(length) if length else sa.Text(), nullable=True)

    def double(name: str) -> sa.Column[object]:
        return sa.Column(name, sa.Double(), nullable=True)

    return {
        "users": [
            text("password", 255),
            text("f2a", 255),
            text("phone", 64),
            text("id_num", 64),
            text("note"),
        ],
        "cat_exchanges": [text("ohlcv_view")],
        "exchanges": [sa.Column("force_rest", sa.Boolean(), server_default=sa.false(), nullable=False)],
        "orders": [
            double("tick"),
            text("client_order_id", 256),
            double("filled"),
            double("remaining"),
            double("average"),
            double("fee"),
            text("fee_currency", 32),
            sa.Column("reduce_only", sa.Boolean(), nullable=True),
            sa.Column("created_ms", BIG_ID, nullable=True),
            sa.Column("updated_ms", BIG_ID, nullable=True),
            text("event_id", 64),
        ],
        "trades": [
            sa.Column("cat_ex_id", sa.Integer(), nullable=True),
            sa.Column("time_ms", BIG_ID, nullable=True),
            text("fee_currency", 32),
            text("liquidity", 8),
            text("exchange", 64),
            text("event_id", 64),
        ],
    }


def _existing(bind: Connection) -> dict[str, dict[str, dict[str, object]]]:
    inspector = sa.inspect(bind)
    return {
        table: {c["name"]: dict(c) for c in inspector.get_columns(table)}
        for table in ("users", "cat_exchanges", "exchanges", "orders", "trades")
    }


def _has_unique(bind: Connection, table: str, columns: Sequence[str]) -> bool:
    inspector = sa.inspect(bind)
    wanted = set(columns)
    keys = [set(u["column_names"]) for u in inspector.get_unique_constraints(table)]
    keys += [{str(c) for c in i["column_names"]} for i in inspector.get_indexes(table) if i.get("unique")]
    return wanted in keys


def _refuse_duplicates(bind: Connection, table: str, columns: Sequence[str]) -> None:
    names = ", ".join(columns)
    present = " AND ".join(f"{c} IS NOT NULL" for c in columns)
    repeated = bind.scalar(
        sa.text(
            f"SELECT count(*) FROM (SELECT {names} FROM {table} WHERE {present} "
            f"GROUP BY {names} HAVING count(*) > 1) AS repeated"
        )
    )
    if repeated:
        raise FatalError(
            f"{table} holds {repeated} ({names}) keys on more than one row; the service needs them "
            f"unique: keep one row per key (SELECT {names}, count(*) FROM {table} GROUP BY {names} "
            "HAVING count(*) > 1 lists them), then run db upgrade again"
        )


def _add_columns(bind: Connection, have: dict[str, dict[str, dict[str, object]]]) -> None:
    for table, columns in _columns().items():
        for column in columns:
            if column.name not in have[table]:
                op.add_column(table, column)
    if "manager" not in have["users"]:
        if bind.dialect.name == "sqlite":
            # ADD COLUMN with an inline reference: SQLite cannot add a constraint to a table in
            # place, and copying ``users`` would cascade its deletion to ``exchanges``.
            op.execute("ALTER TABLE users ADD COLUMN manager INTEGER REFERENCES users (uid)")
        else:
            op.add_column("users", sa.Column("manager", sa.Integer(), nullable=True))
            op.create_foreign_key("fk_users_manager_users", "users", "users", ["manager"], ["uid"])


def _naive_utc_timestamps(have: dict[str, dict[str, dict[str, object]]]) -> None:
    for table, column in TIMESTAMPS:
        kind = have[table][column]["type"]
        if isinstance(kind, sa.DateTime) and kind.timezone:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(timezone=False),
                existing_type=sa.DateTime(timezone=True),
                postgresql_using=f"\"{column}\" AT TIME ZONE 'UTC'",
            )


def _pg_defaults() -> None:
    op.alter_column("users", "active", server_default=sa.true())
    op.alter_column("exchanges", "test", server_default=sa.false())
    op.alter_column("exchanges", "active", server_default=sa.true())
    for table, column in TIMESTAMPS[:3]:
        op.alter_column(table, column, server_default=utc_now())


def _keys_and_nullability(bind: Connection, have: dict[str, dict[str, dict[str, object]]]) -> None:
    nullable: dict[str, tuple[str, Any]] = {
        "orders": ("ex_order_id", sa.String(128)),
        "trades": ("time_ms", BIG_ID),
    }
    for table, key in UNIQUE_KEYS:
        column, kind = nullable[table]
        loosen = not have[table].get(column, {"nullable": True})["nullable"]
        missing_key = not _has_unique(bind, table, key)
        if missing_key:
            _refuse_duplicates(bind, table, key)
        if not (loosen or missing_key):
            continue
        with op.batch_alter_table(table) as batch:
            if loosen:
                batch.alter_column(column, existing_type=kind, nullable=True)
            if missing_key:
                batch.create_unique_constraint(f"uq_{table}_{'_'.join(key)}", list(key))


def _indexes(bind: Connection) -> None:
    inspector = sa.inspect(bind)
    for table, columns in INDEXES:
        name = f"ix_{table}_{'_'.join(columns)}"
        if name not in {i["name"] for i in inspector.get_indexes(table)}:
            op.create_index(name, table, list(columns))


def _time_ms_trigger(dialect: str) -> None:
    for statement in time_ms_trigger(dialect):
        op.execute(statement)


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    have = _existing(bind)
    _add_columns(bind, have)
    if dialect == "postgresql":
        _naive_utc_timestamps(have)
        _pg_defaults()
    op.execute(_BACKFILL[dialect])
    _keys_and_nullability(bind, _existing(bind))
    _indexes(bind)
    _time_ms_trigger(dialect)


def _drop_trigger(dialect: str) -> None:
    if dialect == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON trades")
        op.execute(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")


def _restore_not_null(bind: Connection) -> None:
    if bind.scalar(sa.text("SELECT count(*) FROM orders WHERE ex_order_id IS NULL")):
        raise FatalError("orders holds rows without ex_order_id: revision 0002 cannot store them")
    tightened: tuple[tuple[str, str, Any], ...] = (
        ("orders", "ex_order_id", sa.String(128)),
        ("trades", "time_ms", BIG_ID),
    )
    for table, column, kind in tightened:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=kind, nullable=False)


def downgrade() -> None:
    bind = op.get_bind()
    if sa.inspect(bind).has_table("alembic_version"):
        raise FatalError(
            "this database is shared with fullon_orm (alembic_version is present): downgrading "
            "below 0003 would alter and then drop fullon's tables; refusing"
        )
    dialect = bind.dialect.name
    _drop_trigger(dialect)
    op.execute(_BACKFILL[dialect])
    _restore_not_null(bind)
    if dialect == "postgresql":
        # 0002's defaults: now() on users and exchanges, none on orders; trades.time never had one.
        defaults: dict[str, Any] = {"users": sa.func.now(), "exchanges": sa.func.now(), "orders": None}
        for table, column in TIMESTAMPS:
            op.alter_column(
                table,
                column,
                type_=sa.DateTime(timezone=True),
                existing_type=sa.DateTime(timezone=False),
                postgresql_using=f"\"{column}\" AT TIME ZONE 'UTC'",
                server_default=defaults.get(table, False),
            )
