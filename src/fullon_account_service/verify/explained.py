"""Balance explained, from what the service stored: per account, every window and its remainder.

Reads the balance anchors (``storage.balance_anchors``), the account's stored fills (``trades``),
its orders' fee currencies (Kraken's fee-in-base orders, see ``ledger.cashflow``) and its ledger
entries (``ledger``), and runs ``ledger.explain`` over them. Only windows ending when the fills and
ledger entries are surely stored (``stored_through``) are judged; the later ones are counted as
``waiting`` (``partitions``: the streams per kind, as the producers and sinks have them, since
that tells which stream holds an account's fills). An account whose producer collects no ledger
entries (``ledger_collected`` false: a venue without ledger support) cannot explain a deposit or
a funding payment: its remainders are reported apart (``AccountExplanation.failing``). Read-only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis.asyncio as aioredis

from fullon_account_service.ledger.cashflow import Instrument, entry_flows, fill_flows
from fullon_account_service.ledger.explain import Window, explain
from fullon_account_service.storage.balance_anchors import BalanceAnchors
from fullon_account_service.storage.db.plain_history import stored_history
from fullon_account_service.storage.db.plain_sql import Rows, connected
from fullon_account_service.verify.stored_through import ledger_collected, stored_through_ms


@dataclass(frozen=True, slots=True)
class AccountExplanation:
    ex_id: int
    windows: list[Window] = field(default_factory=list)
    """The windows judged (ending at or before ``stored_through_ms``)."""
    waiting: int = 0
    """Windows not judged yet: their fills or ledger entries may still be on their way."""
    stored_through_ms: int | None = None
    ledger_collected: bool = True
    """False: the producer reads no ledger for this account, so a remainder may be a deposit."""

    @property
    def unexplained(self) -> list[Window]:
        return [w for w in self.windows if not w.ok]

    @property
    def failing(self) -> list[Window]:
        """The remainders that fail a verdict: all of them when the ledger is collected."""
        return self.unexplained if self.ledger_collected else []

    def remainders(self) -> dict[str, float]:
        """Per currency, the largest unexplained remainder of its windows (0.0 when all explain)."""
        worst: dict[str, float] = {}
        for window in self.windows:
            value = 0.0 if window.ok else window.remainder
            if abs(value) >= abs(worst.get(window.currency, 0.0)):
                worst[window.currency] = value
        return worst


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def describe(ex_id: int, window: Window, *, ledger_collected: bool = True) -> str:
    """One line naming the account, the currency and the window of a remainder."""
    return (
        f"account {ex_id} {window.currency}: {window.remainder:+.10g} unexplained between "
        f"{_iso(window.t0_ms)} and {_iso(window.t1_ms)} (balance {window.before:.10g} -> "
        f"{window.after:.10g}, {window.flows} fills/entries explain {window.explained:+.10g})"
        + ("" if ledger_collected else "; no ledger entries are collected for this account")
    )


def _fee_in_base(orders: Iterable[tuple[str | None, str, str | None]]) -> set[str]:
    """Spot orders whose venue charges the fee in the base currency (Kraken ``fcib``)."""
    found: set[str] = set()
    for ex_order_id, symbol, fee_currency in orders:
        inst = Instrument.of(symbol)
        if ex_order_id and inst.settle is None and (fee_currency or "").upper() == inst.base:
            found.add(ex_order_id)
    return found


async def _explain_account(
    ex_id: int, rows: Rows, redis: aioredis.Redis, *, prefix: str, band_ms: int, partitions: int
) -> AccountExplanation:
    """Up to when the history is stored and the anchors are read first: a fill stored after this
    read started can then only add to what is judged, never leave a judged window short."""
    through = await stored_through_ms(redis, prefix, ex_id, partitions=partitions)
    anchors = await BalanceAnchors(redis, prefix=prefix).read(ex_id)
    history = await stored_history(rows, ex_id)
    flows = fill_flows(history.fills, _fee_in_base(history.fee_orders)) + entry_flows(history.entries)
    windows = explain(anchors, flows, band_ms=band_ms)
    judged = [w for w in windows if through is not None and w.t1_ms <= through]
    collected = await ledger_collected(redis, prefix, ex_id)
    return AccountExplanation(ex_id, judged, len(windows) - len(judged), through, collected)


async def explain_accounts(
    database_url: str,
    redis: aioredis.Redis,
    *,
    prefix: str,
    band_ms: int,
    partitions: int,
    ex_ids: Collection[int] | None = None,
) -> list[AccountExplanation]:
    """Every account with balance anchors (or those of ``ex_ids``), over one database connection
    of the driver alone (``storage.db.plain_history``)."""
    wanted = sorted(ex_ids) if ex_ids is not None else await BalanceAnchors(redis, prefix=prefix).accounts()
    if not wanted:
        return []
    async with connected(database_url, "read fills and ledger for balance explained") as rows:
        return [
            await _explain_account(ex_id, rows, redis, prefix=prefix, band_ms=band_ms, partitions=partitions)
            for ex_id in wanted
        ]
