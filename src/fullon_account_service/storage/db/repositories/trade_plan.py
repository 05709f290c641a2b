"""What one ``save_trades`` batch writes, worked out in memory before any write is sent.

Per (ex_id, symbol) the new fills either continue from the stored checkpoint (``continues``) or
the book is rebuilt from a start time and every fill from there is replayed (``BatchPlan.replay``
with the stored rows from that time on). Either way the plan collects the rows to insert, the
stored rows whose PnL changed, and the group's new checkpoint.

A plan can also be made before the transaction (``speculate``), from the checkpoints a sink expects
to find (``CheckpointMemo``: the ones its last batches wrote); inside the transaction it is used
only if every checkpoint read under the locks is exactly the one it assumed (``Speculation.holds``),
else the batch is planned again from what was read. So a sink can plan batch N+1 while batch N is
being written, and a wrong guess (another sink wrote the symbol, batch N failed) costs only time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import Row

from fullon_account_service.ledger.booked import PNL_FIELDS, booked
from fullon_account_service.ledger.fifo import FifoBook, compute, sort_key
from fullon_account_service.ledger.fills import Fill, GroupKey
from fullon_account_service.storage.db.repositories.trade_books import Checkpoint, checkpoint_row
from fullon_account_service.storage.db.repositories.trade_history import stored_fill

_ENCODE = msgspec.json.Encoder()
MEMO_GROUPS = 10_000
"""Checkpoints a sink remembers, newest written last: enough for every symbol of a large
deployment's recent batches; a symbol forgotten is planned inside the transaction, as before."""


def unique_fills(records: Sequence[Fill]) -> list[Fill]:
    """One fill per key, the first seen kept."""
    return list({record.key: record for record in reversed(records)}.values())


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
        self._json: tuple[str, str] | None = None

    def as_json(self) -> tuple[str, str]:
        """The inserts and the checkpoints as JSON documents (PostgreSQL's parameters), encoded
        once: a plan made ahead of its transaction is encoded ahead too."""
        if self._json is None:
            self._json = (_ENCODE.encode(self.inserts).decode(), _ENCODE.encode(self.books).decode())
        return self._json

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


class CheckpointMemo:
    """The checkpoints a sink expects to read next: the last ones it planned or wrote per symbol.

    ``generation`` counts the corrections (checkpoints planned in a transaction, from what was
    read): a plan made ahead from an older generation may have assumed what was corrected since.
    """

    def __init__(self, limit: int = MEMO_GROUPS) -> None:
        self._limit = limit
        self._books: dict[GroupKey, Checkpoint] = {}
        self.generation = 0

    def get(self, group: GroupKey) -> Checkpoint | None:
        return self._books.get(group)

    def correct(self, rows: Iterable[dict[str, Any]]) -> None:
        """Checkpoints planned in a transaction: what the database holds once it commits."""
        self.generation += 1
        self.remember(rows)

    def remember(self, rows: Iterable[dict[str, Any]]) -> None:
        books = self._books
        for row in rows:
            group = (row["ex_id"], row["symbol"])
            books.pop(group, None)
            last = (row["last_time_ms"], row["last_ex_trade_id"], row["last_ex_order_id"])
            books[group] = Checkpoint(last, row["lots"])
        while len(books) > self._limit:
            del books[next(iter(books))]


@dataclass(slots=True)
class Speculation:
    """The writes of a batch's new fills planned from ``assumed`` checkpoints, before the batch's
    transaction; ``starts`` per group is the earliest time the writes touch."""

    records: list[Fill]
    assumed: dict[GroupKey, Checkpoint]
    plan: BatchPlan
    starts: dict[GroupKey, int]

    def holds(self, read: dict[GroupKey, Checkpoint]) -> bool:
        """Whether the checkpoints read under the locks are the ones assumed, none behind."""
        for group, assumed in self.assumed.items():
            found = read.get(group)
            if found is None or found.behind_from is not None:
                return False
            if found.last != assumed.last or found.lots != assumed.lots:
                return False
        return True


def speculate(records: Sequence[Fill], memo: CheckpointMemo) -> Speculation | None:
    """The plan of ``records`` (unique fills) over the checkpoints ``memo`` expects; ``None`` when
    a symbol has none there or a fill does not come after it (those are planned in the
    transaction, where stored rows can be looked up). ``memo`` then expects the plan's checkpoints."""
    groups: defaultdict[GroupKey, list[Fill]] = defaultdict(list)
    for record in records:
        groups[record.group].append(record)
    assumed: dict[GroupKey, Checkpoint] = {}
    for group, new in groups.items():
        checkpoint = memo.get(group)
        if checkpoint is None or not all(presumed_new(record, checkpoint) for record in new):
            return None
        assumed[group] = checkpoint
    plan = BatchPlan()
    starts: dict[GroupKey, int] = {}
    for group, new in groups.items():
        plan.replay(group, assumed[group].book(group[1]), new)
        starts[group] = min(record.time_ms for record in new)
    memo.remember(plan.books)
    return Speculation(list(records), assumed, plan, starts)
