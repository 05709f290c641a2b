"""Published events against the ground truth: did the producers tell the whole story, once?

The envelopes (in publish order, duplicates and all) are folded the way the sinks fold them, so
this check and the stored-books check agree on what "final" means:

- fills and ledger entries are deduplicated by ``event_id`` (one fact, one id whatever channel
  saw it); one that still shows up under two ids would be stored twice, and is reported;
- order versions combine by the ledger rule (``ledger.orders.merge``: terminal beats open,
  later beats earlier, filled never goes down);
- balance and position snapshots apply in exchange-time order: a complete one replaces, a
  partial one is laid over, a flat position closes its symbol.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from fullon_account_service.contract.events import (
    BalanceSnapshot,
    Envelope,
    LedgerEntry,
    OrderUpdate,
    PositionSide,
    PositionSnapshot,
    TradeFill,
)
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.ledger.orders import OrderRecord, merge
from fullon_account_service.sinks.cache_sink import event_ms
from fullon_account_service.verify.compare import (
    DEFAULT_LIMIT,
    AccountKey,
    Books,
    BooksComparison,
    compare_books,
)
from fullon_account_service.verify.expect import BalanceView, PositionView


def _balances(snapshots: list[Envelope]) -> dict[str, BalanceView]:
    state: dict[str, BalanceView] = {}
    for envelope in sorted(snapshots, key=event_ms):
        assert isinstance(envelope.payload, BalanceSnapshot)
        if not envelope.payload.partial:
            state = {}
        for currency, b in envelope.payload.balances.items():
            state[currency] = BalanceView(b.total, b.free, b.used)
    return state


def _positions(snapshots: list[Envelope]) -> dict[str, PositionView]:
    state: dict[str, PositionView] = {}
    for envelope in sorted(snapshots, key=event_ms):
        assert isinstance(envelope.payload, PositionSnapshot)
        if not envelope.payload.partial:
            state = {}
        for p in envelope.payload.positions:
            if p.side is PositionSide.FLAT or p.volume <= 0:
                state.pop(p.symbol, None)
            else:
                state[p.symbol] = PositionView(p.side.value, p.volume, p.entry_price)
    return state


def fold_events(envelopes: Iterable[Envelope]) -> dict[int, Books]:
    """The books the events amount to, per ex_id."""
    seen: set[str] = set()
    books: defaultdict[int, Books] = defaultdict(Books)
    orders: dict[tuple[int, str], OrderRecord] = {}
    balances: defaultdict[int, list[Envelope]] = defaultdict(list)
    positions: defaultdict[int, list[Envelope]] = defaultdict(list)
    for envelope in envelopes:
        if envelope.event_id in seen:
            continue
        seen.add(envelope.event_id)
        match envelope.payload:
            case TradeFill() as fill:
                books[envelope.ex_id].add_fill(
                    Fill.from_contract(
                        fill, ex_id=envelope.ex_id, uid=envelope.uid, exchange=envelope.exchange
                    )
                )
            case LedgerEntry() as entry:
                books[envelope.ex_id].add_entry(
                    LedgerRecord.from_contract(
                        entry, ex_id=envelope.ex_id, uid=envelope.uid, exchange=envelope.exchange
                    )
                )
            case OrderUpdate() as update:
                record = OrderRecord.from_update(
                    update,
                    ex_id=envelope.ex_id,
                    uid=envelope.uid,
                    exchange=envelope.exchange,
                    exchange_ms=envelope.exchange_ms,
                )
                current = orders.get(record.key)
                orders[record.key] = record if current is None else merge(current, record)
            case BalanceSnapshot():
                balances[envelope.ex_id].append(envelope)
            case PositionSnapshot():
                positions[envelope.ex_id].append(envelope)
    for (ex_id, ex_order_id), record in orders.items():
        books[ex_id].orders[ex_order_id] = record
    for ex_id, items in balances.items():
        books[ex_id].balances = _balances(items)
    for ex_id, items in positions.items():
        books[ex_id].positions = _positions(items)
    return dict(books)


def compare_events(
    truth: Mapping[str, Any],
    ex_ids: Mapping[AccountKey, int],
    envelopes: Iterable[Envelope],
    *,
    limit: int = DEFAULT_LIMIT,
) -> BooksComparison:
    """``ex_ids`` maps each simulated account, ``(venue, index)``, to the ex_id its events carry."""
    return compare_books(truth, ex_ids, fold_events(envelopes), limit=limit)
