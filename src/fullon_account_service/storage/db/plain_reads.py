"""The command line's read-only queries, as SQL text run by the driver alone (``plain_sql``).

A missing table is ``StorageUnavailable``, so a caller can migrate and read again. The accounts
the command line writes are ``plain_writes``; everything else that writes keeps the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from fullon_account_service.ledger.entries import SYMBOL_CHARGES, SymbolCharge, summed_charges
from fullon_account_service.storage.db.plain_sql import connected
from fullon_account_service.storage.db.schema_names import VERSION_TABLE
from fullon_account_service.storage.db.utc import as_utc

_REVISION = f"SELECT version_num FROM {VERSION_TABLE}"
_ACCOUNT_EXISTS = "SELECT ex_id FROM exchanges WHERE ex_id = $1"
_TRADES_OF = "SELECT symbol, time, roi, total_fee, volume FROM trades WHERE ex_id = $1"
_CHARGED = "reason IN (" + ", ".join(f"'{reason}'" for reason in SYMBOL_CHARGES) + ")"
_CHARGES_OF = (
    f"SELECT symbol, currency, reason, SUM(amount) FROM ledger WHERE ex_id = $1 AND {_CHARGED}"
    " GROUP BY symbol, currency, reason"
)
_CHARGE_FEES_OF = (
    "SELECT symbol, COALESCE(fee_currency, currency), reason, -SUM(fee) FROM ledger"
    f" WHERE ex_id = $1 AND {_CHARGED} AND fee IS NOT NULL"
    " GROUP BY symbol, COALESCE(fee_currency, currency), reason"
)
_ACCOUNTS = (
    "SELECT e.ex_id, u.mail, c.name, e.name, e.active, e.test, e.force_rest FROM exchanges e"
    " JOIN users u ON u.uid = e.uid JOIN cat_exchanges c ON c.cat_ex_id = e.cat_ex_id ORDER BY e.ex_id"
)


@dataclass(frozen=True, slots=True)
class StoredTrade:
    """The columns of a ``trades`` row that a PnL report sums (``reports.pnl.TradeRow``)."""

    symbol: str
    time: datetime
    roi: float | None
    total_fee: float | None
    volume: float


@dataclass(frozen=True, slots=True)
class StoredAccount:
    ex_id: int
    user: str
    exchange: str
    name: str
    active: bool
    test: bool
    force_rest: bool


def without_password(database_url: str) -> str:
    """The URL with its password shown as ``***``, as SQLAlchemy renders it."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}"))


async def recorded_revision(database_url: str) -> str | None:
    """The one revision our version table holds; ``None`` when it holds none or several.

    A missing table is ``StorageUnavailable`` (a database never migrated, or migrated by an older
    release that kept the revision elsewhere): ``revision.current`` knows those cases."""
    async with connected(database_url, "read schema revision") as rows:
        found = await rows(_REVISION)
    return str(found[0][0]) if len(found) == 1 else None


async def pnl_inputs(database_url: str, ex_id: int) -> tuple[bool, list[StoredTrade], list[SymbolCharge]]:
    """(whether ``ex_id`` is a registered account, its stored trades in no particular order, its
    funding and liquidation charges per (symbol, currency, reason), fees taken off)."""
    async with connected(database_url, "read trades") as rows:
        known = bool(await rows(_ACCOUNT_EXISTS, ex_id))
        trades = [
            StoredTrade(str(symbol), as_utc(time), roi, total_fee, float(volume))
            for symbol, time, roi, total_fee, volume in await rows(_TRADES_OF, ex_id)
        ]
        charges = summed_charges([*await rows(_CHARGES_OF, ex_id), *await rows(_CHARGE_FEES_OF, ex_id)])
    return known, trades, charges


async def accounts(database_url: str) -> list[StoredAccount]:
    """Every account with its owner's mail and its exchange's name, by ex_id."""
    async with connected(database_url, "list accounts") as rows:
        found = await rows(_ACCOUNTS)
    return [
        StoredAccount(int(ex_id), str(mail), str(venue), str(name), bool(active), bool(test), bool(rest))
        for ex_id, mail, venue, name, active, test, rest in found
    ]
