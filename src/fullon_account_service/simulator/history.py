"""Balances and positions over time, for checkers that verify intermediate states too.

A listener on every account: each ``BalancesChanged`` / ``PositionChanged`` appends the new values
stamped with the ledger's event time. Bounded per account (oldest dropped first) so long,
fast runs cannot exhaust memory.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import BalancesChanged, Change, PositionChanged, SimAccount, World

Row = dict[str, Any]


class TruthRecorder:
    def __init__(self, ledger: Ledger, *, max_rows_per_account: int = 100_000) -> None:
        self._ledger = ledger
        self._max = max_rows_per_account
        self._balances: dict[tuple[str, int], deque[Row]] = {}
        self._positions: dict[tuple[str, int], deque[Row]] = {}

    def attach(self, world: World) -> None:
        for account in world.accounts:
            account.listeners.append(self._on_change)

    def _rows(self, store: dict[tuple[str, int], deque[Row]], account: SimAccount) -> deque[Row]:
        key = (account.venue, account.index)
        rows = store.get(key)
        if rows is None:
            rows = store[key] = deque(maxlen=self._max)
        return rows

    def _on_change(self, account: SimAccount, change: Change) -> None:
        ts = self._ledger.last_ms(account)
        if isinstance(change, BalancesChanged):
            rows = self._rows(self._balances, account)
            held = account.held()
            for currency in change.currencies:
                balance = held[currency]
                rows.append({"ts_ms": ts, "currency": currency, "total": balance.total, "used": balance.used})
        elif isinstance(change, PositionChanged):
            pos = account.positions.get(change.symbol)
            self._rows(self._positions, account).append(
                {
                    "ts_ms": ts,
                    "symbol": change.symbol,
                    "contracts": pos.contracts if pos else 0.0,
                    "entry_price": pos.entry_price if pos else None,
                    "mark_price": pos.mark_price if pos else None,
                }
            )

    def history(self, account: SimAccount) -> dict[str, list[Row]]:
        key = (account.venue, account.index)
        return {
            "balance_history": list(self._balances.get(key, ())),
            "position_history": list(self._positions.get(key, ())),
        }
