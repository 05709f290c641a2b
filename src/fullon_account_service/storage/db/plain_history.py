"""What balance explained reads of an account from SQL, as SQL text run by the driver alone (``plain_sql``).

``health`` explains every account's balance changes (``verify.explained``); through the ORM that
would cost it most of a second of imports before its first statement, more than the whole command
may take. The columns read are the fields of ``Fill`` and ``LedgerRecord``, which are named as the
``trades`` and ``ledger`` columns; ``tests/storage/test_plain_history.py`` checks on both backends
that the rows read here are the ones the ORM reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.storage.db.plain_sql import Rows

_FILL_COLUMNS = Fill.__struct_fields__
_ENTRY_COLUMNS = LedgerRecord.__struct_fields__
_FILLS = (
    f"SELECT {', '.join(_FILL_COLUMNS)} FROM trades WHERE ex_id = $1"
    " ORDER BY time_ms, ex_trade_id, ex_order_id"
)
_FEE_ORDERS = (
    "SELECT ex_order_id, symbol, fee_currency FROM orders WHERE ex_id = $1 AND fee_currency IS NOT NULL"
    " ORDER BY order_id"
)
_ENTRIES = (
    f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM ledger WHERE ex_id = $1"
    " ORDER BY time_ms, ex_ledger_id, currency"
)


@dataclass(frozen=True, slots=True)
class StoredHistory:
    fills: list[Fill]
    """Oldest first."""
    fee_orders: list[tuple[str | None, str, str]]
    """(ex_order_id, symbol, fee_currency) of the orders whose fee currency is known."""
    entries: list[LedgerRecord]
    """Oldest first."""


async def stored_history(rows: Rows, ex_id: int) -> StoredHistory:
    """``ex_id``'s fills, orders' fee currencies and ledger entries, over a connection of ``plain_sql``."""
    fills = [
        Fill.from_stored(dict(zip(_FILL_COLUMNS, row, strict=True))) for row in await rows(_FILLS, ex_id)
    ]
    orders = [(row[0], str(row[1]), str(row[2])) for row in await rows(_FEE_ORDERS, ex_id)]
    entries = [
        LedgerRecord(**dict(zip(_ENTRY_COLUMNS, row, strict=True))) for row in await rows(_ENTRIES, ex_id)
    ]
    return StoredHistory(fills, orders, entries)
