"""Trades: inserted once per (ex_trade_id, ex_order_id), with FIFO PnL kept right on every insert.

``save_trades`` works per (ex_id, symbol) touched by the batch:

1. lock the symbol for the transaction (``pg_advisory_xact_lock`` on PostgreSQL, taken in key
   order so two sinks cannot deadlock; SQLite serialises writers once a write has begun, so a
   no-op write takes its lock first);
2. read the symbol's checkpoint (``trade_books``: its open lots after its newest stored fill);
3. find which fills of the batch are new: already stored ones are left alone (idempotence). A
   fill sorting after the checkpoint is new unless the venue reported it again with a later
   time; only the others are looked up before the insert, and the insert reports the conflicts;
4. when every new fill sorts after the checkpoint, the usual case, the new fills continue from
   its lots: no stored fill is read, whatever the length of the history. Otherwise (a fill
   older than the checkpoint, no checkpoint yet, or stored rows the checkpoint does not cover)
   rebuild the lots just before the earliest such fill from the stored rows before it
   (``trade_history.books_before``: it walks back only as far as the open lots reach) and
   replay every fill from that point, stored and new, in ``(time_ms, ex_trade_id,
   ex_order_id)`` order, updating the stored rows whose PnL changed;
5. insert the new rows with their PnL columns and write the new checkpoint (``trade_writes``);
6. when the insert skipped a fill presumed new (stored already), the batch's symbols replay
   again from their earliest fill of the batch over the rows now stored (rare: it takes a venue
   reporting a fill again with a later time).

In-order arrival costs three statements per batch on PostgreSQL whatever the number of symbols:
the locks, the checkpoint read, and one statement inserting the trades and writing the
checkpoints. Nothing commits here: the ORM sink commits orders and trades together.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import desc, false, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from fullon_account_service.ledger.fills import Fill, GroupKey
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Trade
from fullon_account_service.storage.db.repositories.trade_books import Checkpoint, read_checkpoints
from fullon_account_service.storage.db.repositories.trade_history import TABLE, C, books_before, existing_keys
from fullon_account_service.storage.db.repositories.trade_plan import (
    BatchPlan,
    CheckpointMemo,
    Speculation,
    presumed_new,
    rebuild_start,
    unique_fills,
)
from fullon_account_service.storage.db.repositories.trade_writes import write_plan

__all__ = ["TradeRepository", "lock_key"]


def lock_key(ex_id: int, symbol: str) -> int:
    """A stable signed 64-bit advisory-lock key for one (ex_id, symbol)."""
    digest = hashlib.blake2b(f"{ex_id}\x00{symbol}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class TradeRepository:
    def __init__(self, session: AsyncSession, memo: CheckpointMemo | None = None) -> None:
        self._session = session
        self._memo = memo

    @property
    def _dialect(self) -> str:
        return self._session.get_bind().dialect.name

    async def save_trades(
        self,
        records: Sequence[Fill],
        speculation: Speculation | None = None,
        writing: Callable[[], None] | None = None,
    ) -> int:
        """Insert the new fills of a batch and bring PnL up to date; how many were new.

        ``speculation``: the batch planned ahead (its ``records`` are the batch), used as is when
        the checkpoints read under the locks are the ones it assumed. Checkpoints planned here
        correct the repository's memo, if it has one (a speculation's are in it already).
        ``writing`` is called as the writes go out, the statement that takes the database longest.
        """
        unique = speculation.records if speculation is not None else unique_fills(records)
        if not unique:
            return 0
        async with translating("save trades"):
            await self._lock(sorted({record.group for record in unique}))
            checkpoints = await read_checkpoints(self._session, {record.group for record in unique})
            if speculation is not None and speculation.holds(checkpoints):
                plan, starts = speculation.plan, speculation.starts
            else:
                plan, starts = await self._plan_new(unique, checkpoints)
                if self._memo is not None:
                    self._memo.correct(plan.books)
            if writing is not None:
                writing()
            inserted = await write_plan(self._session, plan)
            if inserted < len(plan.inserts):
                await self._replay_stored(starts)
        return inserted

    async def _plan_new(
        self, unique: list[Fill], checkpoints: dict[GroupKey, Checkpoint]
    ) -> tuple[BatchPlan, dict[GroupKey, int]]:
        """The plan of the fills not stored yet, from the checkpoints read."""
        presumed: list[Fill] = []
        unsure: list[Fill] = []
        for record in unique:
            (presumed if presumed_new(record, checkpoints.get(record.group)) else unsure).append(record)
        stored = await existing_keys(self._session, [r.key for r in unsure]) if unsure else set()
        groups: defaultdict[GroupKey, list[Fill]] = defaultdict(list)
        for record in presumed + [r for r in unsure if r.key not in stored]:
            groups[record.group].append(record)
        return await self._plan(groups, checkpoints)

    async def _plan(
        self, groups: dict[GroupKey, list[Fill]], checkpoints: dict[GroupKey, Checkpoint]
    ) -> tuple[BatchPlan, dict[GroupKey, int]]:
        """The writes of the batch, and per group the earliest time they touch."""
        plan = BatchPlan()
        starts: dict[GroupKey, int] = {}
        rebuild: dict[GroupKey, int] = {}
        for group, new in groups.items():
            checkpoint = checkpoints.get(group)
            start = rebuild_start(checkpoint, new)
            if start is None:
                assert checkpoint is not None
                plan.replay(group, checkpoint.book(group[1]), new)
                starts[group] = min(record.time_ms for record in new)
            else:
                rebuild[group] = starts[group] = start
        for group, (book, later) in (await books_before(self._session, rebuild)).items():
            plan.replay(group, book, groups[group], later)
        return plan, starts

    async def _replay_stored(self, starts: dict[GroupKey, int]) -> None:
        """Recompute groups from ``starts`` over what is stored now, the batch's rows included."""
        plan = BatchPlan()
        for group, (book, later) in (await books_before(self._session, starts)).items():
            plan.replay(group, book, (), later)
        await write_plan(self._session, plan)
        if self._memo is not None:
            self._memo.correct(plan.books)

    async def _lock(self, symbols: list[GroupKey]) -> None:
        if self._dialect == "postgresql":
            keys = sorted({lock_key(ex_id, symbol) for ex_id, symbol in symbols})
            await self._session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(k) FROM "
                    "(SELECT unnest(CAST(:keys AS BIGINT[])) AS k ORDER BY 1) AS ordered"
                ),
                {"keys": keys},
            )
        else:
            await self._session.execute(update(TABLE).where(false()).values(trade_id=C.trade_id))

    async def get_exchange_trades(self, exchange_id: int, limit: int = 100) -> list[Trade]:
        """Newest first, by exchange time."""
        async with translating("get exchange trades"):
            result = await self._session.execute(
                select(Trade)
                .where(Trade.ex_id == exchange_id)
                .order_by(desc(Trade.time_ms), desc(Trade.trade_id))
                .limit(limit)
            )
            return list(result.scalars())
