"""Funding and liquidation charges per symbol, summed in SQL for ``fullon-account pnl``.

Apart from ``repositories.ledger`` so that a read command imports neither the repositories nor
logging (``tests/cli/test_cli_imports.py``).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.entries import SYMBOL_CHARGES, SymbolCharge
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Ledger

C = cast(Table, Ledger.__table__).c

ChargeKey = tuple[str | None, str, str]


async def symbol_charges(session: AsyncSession, ex_id: int) -> list[SymbolCharge]:
    """Funding and liquidation charges of ``ex_id`` per (symbol, currency, reason): the sum of
    their amounts, less their fees, each in its own currency (never converted)."""
    charged = C.reason.in_(SYMBOL_CHARGES)
    fee_currency = func.coalesce(C.fee_currency, C.currency)
    amounts = (
        select(C.symbol, C.currency, C.reason, func.sum(C.amount))
        .where(C.ex_id == ex_id, charged)
        .group_by(C.symbol, C.currency, C.reason)
    )
    fees = (
        select(C.symbol, fee_currency, C.reason, -func.sum(C.fee))
        .where(C.ex_id == ex_id, charged, C.fee.is_not(None))
        .group_by(C.symbol, fee_currency, C.reason)
    )
    found: dict[ChargeKey, float] = {}
    async with translating("read ledger charges"):
        for stmt in (amounts, fees):
            for symbol, currency, reason, amount in await session.execute(stmt):
                key = (symbol, currency, reason)
                found[key] = found.get(key, 0.0) + float(amount)
    return [SymbolCharge(*key, amount) for key, amount in sorted(found.items(), key=_order)]


def _order(item: tuple[ChargeKey, float]) -> tuple[str, str, str]:
    (symbol, currency, reason), _ = item
    return (symbol or "", currency, reason)
