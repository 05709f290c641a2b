"""What one ``save_trades`` batch writes, worked out in memory before any write is sent.

Per (ex_id, symbol) the new fills either continue from the stored checkpoint (``continues``) or
the book is rebuilt from a start time and every fill from there is replayed (``BatchPlan.replay``
with the stored rows from that time on). Either way the plan collects the rows to insert, the
stored rows whose PnL changed, and the group's new checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Row

from fullon_account_service.ledger.booked import PNL_FIELDS, booked
from fullon_account_service.ledger.fifo import FifoBook, compute, sort_key
from fullon_account_service.ledger.fills import Fill, GroupKey
from fullon_account_service.storage.db.repositories.trade_books import Checkpoint, checkpoint_row
from fullon_account_service.storage.db.repositories.trade_history import stored_fill


def presumed_new(record: Fill, checkpoint: Checkpoint | None) -> bool:
    """A fill after its symbol's checkpoint, with nothing stored past that checkpoint, cannot be
    stored yet (every stored fill of the symbol is at or before the checkpoint), unless the venue
    reported it again with a later time: the insert's conflict check catches that case."""
    return checkpoint is not None and checkpoint.behind_from is None and record.sort_key > checkpoint.last


def rebuild_start(checkpoint: Checkpoint | None, new: Sequence[Fill]) -> int | None:
    """None when ``new`` continues from ``checkpoint``; else the time to rebuild the book from:
    the earliest of the new fills and of the stored rows the checkpoint does not cover."""
    first = min(record.sort_key for record in new)
    if checkpoint is None:
        return first[0]
    if checkpoint.behind_from is None:
        return None if first > checkpoint.last else first[0]
    return min(first[0], checkpoint.behind_from)


class BatchPlan:
    def __init__(self) -> None:
        self.inserts: list[msgspec.Struct] = []
        self.updates: list[dict[str, Any]] = []
        self.books: list[dict[str, Any]] = []

    def replay(
        self,
        group: GroupKey,
        book: FifoBook,
        new: Sequence[Fill],
        later: Sequence[Row[Any]] = (),
    ) -> None:
        """Apply the stored ``later`` rows and the ``new`` fills to ``book``, in order; the
        checkpoint is the book after the last of them, which is the newest fill of the group
        (``later`` holds every stored row from the replay's start on)."""
        by_key = {record.key: record for record in new}
        stored_rows = {(row.ex_trade_id, row.ex_order_id): row for row in later}
        fills = [stored_fill(row) for row in later] + list(new)
        applied = compute(group[1], fills, book)
        for fill, pnl in applied:
            key = (fill.ex_trade_id, fill.ex_order_id)
            record = by_key.get(key)
            if record is not None:
                self.inserts.append(booked(record, pnl))
                continue
            row = stored_rows[key]
            if any(getattr(row, name) != getattr(pnl, name) for name in PNL_FIELDS):
                change = {f"v_{name}": getattr(pnl, name) for name in PNL_FIELDS}
                change["v_trade_id"] = row.trade_id
                self.updates.append(change)
        if applied:
            self.books.append(checkpoint_row(*group, sort_key(applied[-1][0]), book))
