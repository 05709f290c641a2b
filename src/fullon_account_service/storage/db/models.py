"""Tables, with fullon_orm's table and column names so fullon tools read them unchanged.

What we add to fullon's layout, and why:

- ``exchanges.force_rest``: an operator switch to poll an account over REST even where the venue
  has WebSockets.
- ``orders``: UNIQUE(ex_id, ex_order_id) (upstream has none, so WS + REST duplicated rows) and the
  fields an ``OrderUpdate`` carries beyond fullon's: ``client_order_id``, ``filled``,
  ``remaining``, ``average``, ``fee``, ``fee_currency``, ``reduce_only``, ``created_ms``,
  ``updated_ms`` (exchange times in epoch ms; ``updated_ms`` orders versions of one order) and
  ``event_id`` of the version stored. ``volume`` is the ordered quantity, ``final_volume`` the
  executed quantity once the order is terminal.
- ``trades``: ``time_ms`` (exchange time in epoch ms: the FIFO order of fills is
  ``(time_ms, ex_trade_id)`` per ``(ex_id, symbol)``), ``fee_currency`` (quote or base fee
  changes the PnL arithmetic), ``liquidity``, ``exchange`` and ``event_id``. ``time`` is the same
  instant as ``time_ms`` as a UTC timestamp, for fullon readers. ``time_ms`` is nullable only so
  that a row written the way fullon writes it (without ``time_ms``) is accepted: a trigger of
  migration 0003 fills it from ``time`` in the same statement, so readers never see ``NULL``.

fullon's columns we do not fill exist too, nullable (``users.password`` ... ``manager``,
``cat_exchanges.ohlcv_view``, ``orders.tick``), so fullon_orm and this service share one
database (``fullon-account db upgrade`` adopts a database fullon_orm created). Where fullon
requires a value we may not know, we write a documented one: ``orders.bot_id`` ``0`` and
``orders.reason`` ``"unknown"`` (an order seen on the venue, not placed by a known fullon bot; a
bot's own values are never overwritten), ``trades.order_type`` ``"unknown"``. Timestamps of these
tables are UTC in ``timestamp without time zone``, fullon's type (see ``column_types``).

Our own table, not fullon's: ``trade_books``, one row per (ex_id, symbol) holding the open FIFO
lots after the newest fill stored (see ``storage.db.repositories.trade_books``, ``ledger.checkpoint``),
so the PnL of the next fills continues from it instead of re-reading the fills that opened those lots.
And ``ledger``: balance changes that are not fills (funding, deposits, withdrawals, transfers,
rebates, liquidation charges, interest, adjustments), one row per (ex_id, ex_ledger_id, currency).

Orders and trades carry ``uid`` / ``ex_id`` without foreign keys on purpose: they are history
written by the sinks from the bus, and must neither be rejected nor cascade-deleted because an
exchange row was removed. Numbers are double precision; ``NULL`` means the venue did not say.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from fullon_account_service.ledger.conventions import TERMINAL_STATUSES
from fullon_account_service.storage.db.column_types import BigId, UtcDateTime, utc_now

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Named constraints: SQLite batch migrations can only alter a constraint they can name."""


def _now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = "users"

    uid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mail: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    lastname: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(50), default="user")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=_now, server_default=utc_now())
    password: Mapped[str | None] = mapped_column(String(255))
    f2a: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    id_num: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    manager: Mapped[int | None] = mapped_column(ForeignKey("users.uid"))


class CatExchange(Base):
    """An exchange kind; ``name`` is the ccxt id (``kraken``, ``bybit``, ``hyperliquid``)."""

    __tablename__ = "cat_exchanges"

    cat_ex_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    ohlcv_view: Mapped[str | None] = mapped_column(Text)


class Exchange(Base):
    """One user's account on one venue; ``ex_id`` keys its credentials and every cache entry."""

    __tablename__ = "exchanges"
    __table_args__ = (UniqueConstraint("uid", "cat_ex_id", "name"),)

    ex_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uid: Mapped[int] = mapped_column(ForeignKey("users.uid", ondelete="CASCADE"), index=True)
    cat_ex_id: Mapped[int] = mapped_column(ForeignKey("cat_exchanges.cat_ex_id"))
    name: Mapped[str] = mapped_column(String(100))
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    force_rest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=_now, server_default=utc_now())

    # Eager: async sessions cannot lazy-load, and callers read ``exchange.cat_exchange.name``.
    cat_exchange: Mapped[CatExchange] = relationship(lazy="selectin")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("ex_id", "ex_order_id"),
        Index(None, "ex_id", "timestamp"),
    )

    order_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[int | None] = mapped_column(Integer)
    uid: Mapped[int] = mapped_column(Integer)
    ex_id: Mapped[int] = mapped_column(Integer)
    ex_order_id: Mapped[str | None] = mapped_column(String(128))
    cat_ex_id: Mapped[int | None] = mapped_column(Integer)
    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    order_type: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    volume: Mapped[float | None] = mapped_column(Double)
    final_volume: Mapped[float | None] = mapped_column(Double)
    price: Mapped[float | None] = mapped_column(Double)
    plimit: Mapped[float | None] = mapped_column(Double)
    tick: Mapped[float | None] = mapped_column(Double)
    futures: Mapped[bool] = mapped_column(Boolean, default=False)
    leverage: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16))
    command: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(256))
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=_now, server_default=utc_now())
    client_order_id: Mapped[str | None] = mapped_column(String(256))
    filled: Mapped[float | None] = mapped_column(Double)
    remaining: Mapped[float | None] = mapped_column(Double)
    average: Mapped[float | None] = mapped_column(Double)
    fee: Mapped[float | None] = mapped_column(Double)
    fee_currency: Mapped[str | None] = mapped_column(String(32))
    reduce_only: Mapped[bool | None] = mapped_column(Boolean)
    created_ms: Mapped[int | None] = mapped_column(BigId)
    updated_ms: Mapped[int | None] = mapped_column(BigId)
    event_id: Mapped[str | None] = mapped_column(String(64))
    trigger_price: Mapped[float | None] = mapped_column(Double)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Trade(Base):
    __tablename__ = "trades"
    __table_args__ = (
        UniqueConstraint("ex_trade_id", "ex_order_id"),
        Index(None, "ex_id", "symbol", "time_ms"),
        Index(None, "ex_id", "time"),
    )

    trade_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ex_trade_id: Mapped[str] = mapped_column(String(128))
    ex_order_id: Mapped[str] = mapped_column(String(128))
    uid: Mapped[int] = mapped_column(Integer)
    ex_id: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[str] = mapped_column(String(64))
    order_type: Mapped[str | None] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    volume: Mapped[float] = mapped_column(Double)
    price: Mapped[float] = mapped_column(Double)
    cost: Mapped[float] = mapped_column(Double)
    fee: Mapped[float | None] = mapped_column(Double)
    cur_volume: Mapped[float | None] = mapped_column(Double)
    cur_avg_price: Mapped[float | None] = mapped_column(Double)
    cur_avg_cost: Mapped[float | None] = mapped_column(Double)
    cur_fee: Mapped[float | None] = mapped_column(Double)
    roi: Mapped[float | None] = mapped_column(Double)
    roi_pct: Mapped[float | None] = mapped_column(Double)
    total_fee: Mapped[float | None] = mapped_column(Double)
    leverage: Mapped[float | None] = mapped_column(Double)
    time: Mapped[datetime] = mapped_column(UtcDateTime)
    # Nullable for writers that leave it out; the 0003 trigger fills it in the same statement.
    time_ms: Mapped[int] = mapped_column(BigId, nullable=True)
    cat_ex_id: Mapped[int | None] = mapped_column(Integer)
    fee_currency: Mapped[str | None] = mapped_column(String(32))
    liquidity: Mapped[str | None] = mapped_column(String(8))
    exchange: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(64))
    exec_kind: Mapped[str | None] = mapped_column(String(16))


class TradeBook(Base):
    """The FIFO checkpoint of one (ex_id, symbol), written in the transaction that stores its fills.

    ``last_*`` is the canonical sort key ``(time_ms, ex_trade_id, ex_order_id)`` of the newest fill
    the lots include; ``lots`` is JSON ``[[qty, price, fee_per_unit], ...]`` oldest first, all on
    the side of ``volume`` (the signed open position, for readers; ``[]`` when flat).
    """

    __tablename__ = "trade_books"

    ex_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    symbol: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_time_ms: Mapped[int] = mapped_column(BigId)
    last_ex_trade_id: Mapped[str] = mapped_column(String(128))
    last_ex_order_id: Mapped[str] = mapped_column(String(128))
    volume: Mapped[float] = mapped_column(Double)
    lots: Mapped[str] = mapped_column(Text)


class Ledger(Base):
    """One balance change that is not a fill; the columns are ``ledger.entries.LedgerRecord``'s.

    Stored once per (ex_id, ex_ledger_id, currency): a repeat is dropped, whatever channel saw it.
    ``amount`` is signed from the account's side and excludes ``fee``; ``reason`` is a
    ``LedgerReason`` value, ``raw_type`` the venue's own word; ``time_ms`` is the venue's time.
    """

    __tablename__ = "ledger"
    __table_args__ = (
        UniqueConstraint("ex_id", "ex_ledger_id", "currency"),
        Index(None, "ex_id", "time_ms"),
        Index(None, "ex_id", "symbol"),
    )

    ledger_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ex_id: Mapped[int] = mapped_column(Integer)
    uid: Mapped[int] = mapped_column(Integer)
    exchange: Mapped[str] = mapped_column(String(64))
    ex_ledger_id: Mapped[str] = mapped_column(String(256))
    currency: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float] = mapped_column(Double)
    reason: Mapped[str] = mapped_column(String(16))
    time_ms: Mapped[int] = mapped_column(BigId)
    raw_type: Mapped[str | None] = mapped_column(String(256))
    symbol: Mapped[str | None] = mapped_column(String(64))
    balance_after: Mapped[float | None] = mapped_column(Double)
    fee: Mapped[float | None] = mapped_column(Double)
    fee_currency: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(64))
