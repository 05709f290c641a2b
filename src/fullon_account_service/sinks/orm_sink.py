"""The ``orm`` consumer group: orders, trades and ledger entries into the database, one
transaction per batch.

Orders are upserted with monotonic state (``OrderRepository``, the rule of ``ledger.orders``),
trades inserted once with FIFO PnL (``TradeRepository``, the engine of ``ledger.fifo``), ledger
entries inserted once per (ex_id, ex_ledger_id, currency) (``LedgerRepository``), all in the same
transaction, committed before the consumer acknowledges the batch: a crash after the commit
replays the batch, and every write is idempotent, so a replay changes nothing.

An event for an ex_id the database does not know, or a fill without a usable quantity or price,
raises ``ContractError``: the consumer isolates it and dead-letters it; the rest of the batch is
stored.

With a consumer that reads ahead (``Consumer(read_ahead=True)``) the sink prepares the next batch
while this one is stored (``prepare``): its rows built and its trades' FIFO PnL planned from the
checkpoints the sink expects; ``handle`` then stores that plan only if the checkpoints it reads
under the symbols' locks are those, and plans again otherwise (see ``trade_plan``). Stored rows
and PnL are the same either way.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.bus.consumer import Delivery
from fullon_account_service.contract.events import Envelope, LedgerEntry, OrderUpdate, TradeFill
from fullon_account_service.errors import ContractError
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.sinks import groups
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.storage.db.repositories.orders import OrderRepository
from fullon_account_service.storage.db.repositories.trade_plan import (
    CheckpointMemo,
    Speculation,
    speculate,
    unique_fills,
)
from fullon_account_service.storage.db.repositories.trades import TradeRepository

GROUP = groups.ORM
KINDS = ("order", "trade", "ledger")


@dataclass(slots=True)
class Records:
    """A batch turned into rows, and its trade writes if they could be planned ahead."""

    deliveries: Sequence[Delivery]
    orders: list[OrderRecord]
    trades: list[Fill]
    entries: list[LedgerRecord]
    speculation: Speculation | None = None
    generation: int = -1
    """Of the sink's ``CheckpointMemo`` when ``speculation`` was made."""


class OrmSink:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], known: KnownAccounts) -> None:
        self._factory = session_factory
        self._known = known
        self._memo = CheckpointMemo()
        self._prepared: Records | None = None
        # Set while no batch is being stored, or once its writes are in the database's hands:
        # the CPU work of preparing the next batch then overlaps the database's work, instead
        # of the short round trips before it.
        self._writing = asyncio.Event()
        self._writing.set()

    async def prepare(self, deliveries: Sequence[Delivery]) -> None:
        """Turn a batch read ahead into rows and plan its trade writes from the checkpoints this
        sink expects (the consumer's ``prepare`` hook: it runs while the batch before is stored).
        Nothing is stored; a batch that cannot be prepared (unknown account, bad event) is left to
        ``handle``, which raises for it."""
        self._prepared = None
        await self._writing.wait()
        try:
            records = await self._records(deliveries)
        except ContractError:
            return
        self._speculate(records)
        self._prepared = records

    def _speculate(self, records: Records) -> None:
        records.generation = self._memo.generation
        records.speculation = speculate(unique_fills(records.trades), self._memo)
        if records.speculation is not None:
            records.speculation.plan.as_json()

    async def handle(self, deliveries: Sequence[Delivery]) -> None:
        records = self._prepared
        if records is not None and records.deliveries is deliveries:
            self._prepared = None
            if records.generation != self._memo.generation:
                # Planned before a batch corrected the checkpoints it expected: plan it again
                # from them, or each batch would be planned from the one before the last.
                self._speculate(records)
        else:
            records = await self._records(deliveries)
        self._writing.clear()
        try:
            await self._store(records)
        finally:
            self._writing.set()

    async def _store(self, records: Records) -> None:
        async with translating("store orders, trades and ledger entries"), self._factory() as session:
            await OrderRepository(session).save_orders(records.orders)
            trades = TradeRepository(session, self._memo)
            await trades.save_trades(records.trades, records.speculation, self._writing.set)
            await LedgerRepository(session).save_entries(records.entries)
            await session.commit()

    async def _records(self, deliveries: Sequence[Delivery]) -> Records:
        envelopes = [delivery.envelope for delivery in deliveries]
        unknown = await self._known.unknown({envelope.ex_id for envelope in envelopes})
        if unknown:
            raise ContractError(f"events for unknown ex_id {sorted(unknown)}")
        records = Records(deliveries, [], [], [])
        for envelope in envelopes:
            match envelope.payload:
                case OrderUpdate() as update:
                    records.orders.append(self._order(envelope, update))
                case TradeFill() as fill:
                    records.trades.append(_trade(envelope, fill, self._known.cat_ex_id(envelope.ex_id)))
                case LedgerEntry() as entry:
                    records.entries.append(_entry(envelope, entry))
                case _:
                    raise ContractError(f"{envelope.kind} event delivered to the orm sink")
        # Key order keeps two sinks upserting overlapping orders from locking rows crosswise.
        records.orders.sort(key=lambda record: record.key)
        return records

    def _order(self, envelope: Envelope, update: OrderUpdate) -> OrderRecord:
        record = OrderRecord.from_update(
            update,
            ex_id=envelope.ex_id,
            uid=envelope.uid,
            exchange=envelope.exchange,
            event_id=envelope.event_id,
            exchange_ms=envelope.exchange_ms,
        )
        return dataclasses.replace(record, cat_ex_id=self._known.cat_ex_id(envelope.ex_id))


def _trade(envelope: Envelope, fill: TradeFill, cat_ex_id: int | None) -> Fill:
    if not fill.volume > 0 or not fill.price > 0:
        raise ContractError(
            f"fill {fill.ex_trade_id} of ex_id {envelope.ex_id} has volume {fill.volume} and price "
            f"{fill.price}: both must be positive"
        )
    return Fill.from_contract(
        fill,
        ex_id=envelope.ex_id,
        uid=envelope.uid,
        exchange=envelope.exchange,
        event_id=envelope.event_id,
        cat_ex_id=cat_ex_id,
    )


def _entry(envelope: Envelope, entry: LedgerEntry) -> LedgerRecord:
    return LedgerRecord.from_contract(
        entry, ex_id=envelope.ex_id, uid=envelope.uid, exchange=envelope.exchange, event_id=envelope.event_id
    )
