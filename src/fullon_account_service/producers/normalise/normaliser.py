"""Per-account normaliser: ccxt results in, validated envelopes and dead letters out.

It remembers three things about its account, all to stay honest rather than to guess:
- the last complete REST balance, which completes Kraken's total-only WebSocket balances;
- the immutable facts of orders seen before (symbol, side, type, amount, price), which complete a
  sparse WebSocket order update (``known_orders``, bounded by count and age). A sparse update
  about an order never seen, or forgotten, is held back (REST reconciliation will report it)
  instead of being published with invented fields;
- the leverage of each symbol's latest position or order: venues set leverage per symbol and no
  fill row carries it, so a fill is stamped with the leverage its symbol had when it happened
  (``None`` until a position or order of the symbol has said).
The venue adapter's corrections (``normalise.order_fixes`` / ``trade_fixes``) run on every order
and fill before the unified reading. Nothing here
raises on bad venue data: a row that cannot be normalised becomes a ``DeadPayload``; a venue
execution that is not a trade (funding) is dropped with a debug log, and so is a ledger row a
fill already accounts for (``NotALedgerEntry``); a deposit or withdrawal not done yet is noted in
the batch's ``pending`` to be followed, one that ended with nothing booked in its ``void``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    LedgerReason,
    OrderUpdate,
    Payload,
    PositionSnapshot,
    Source,
    TradeFill,
    event_id,
    validate,
)
from fullon_account_service.errors import ContractError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.fields import balance_rows
from fullon_account_service.producers.normalise import unified
from fullon_account_service.producers.normalise.known_orders import IMMUTABLE_FIELDS, KnownOrders
from fullon_account_service.producers.normalise.wallets import Wallets
from fullon_account_service.producers.venues import adapter_for
from fullon_account_service.producers.venues.adapter import Fix
from fullon_account_service.producers.venues.common import (
    NotAFill,
    NotALedgerEntry,
    PendingLedgerEntry,
    VoidLedgerEntry,
)
from fullon_account_service.redaction import redact

_log = get_logger("producers.normalise")

_MAX_DEAD_BYTES = 64 * 1024


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class DeadPayload:
    reason: str
    payload: bytes


@dataclass(slots=True)
class Batch:
    envelopes: list[Envelope] = field(default_factory=list)
    dead: list[DeadPayload] = field(default_factory=list)
    held_back: int = 0
    pending: dict[str, int] = field(default_factory=dict)
    """Deposits and withdrawals listed but not done yet: follow key -> the record's time."""
    void: set[str] = field(default_factory=set)
    """Deposits and withdrawals that ended without moving the balance (their follow keys)."""
    wallet_moved: bool = False
    """A row moved a wallet no stream reports: a REST balance read is owed (``Wallets.moved``)."""

    def extend(self, other: Batch) -> None:
        self.envelopes.extend(other.envelopes)
        self.dead.extend(other.dead)
        self.held_back += other.held_back
        self.pending.update(other.pending)
        self.void |= other.void
        self.wallet_moved |= other.wallet_moved


def _trades_spot(payload: Payload) -> bool:
    """A fill or order of a spot market (ccxt's symbols of derivatives name their settle
    currency after a ``:``)."""
    return isinstance(payload, TradeFill | OrderUpdate) and ":" not in payload.symbol


def _raw(row: Any) -> bytes:
    data = json.dumps(redact(row), default=str, sort_keys=True).encode()
    return data[:_MAX_DEAD_BYTES]


class Normaliser:
    def __init__(
        self,
        ref: AccountRef,
        markets: Container[str],
        currency_code: Callable[[str], str],
        clock: Callable[[], int] = now_ms,
        address: str | None = None,
    ) -> None:
        self.ref = ref
        self._address = address
        """The account's own address where the venue names accounts by one (Hyperliquid's
        ``walletAddress``): fill rows reach the venue's fixes with it as ``account``, as ledger rows
        do, so a fill naming another account (the other side of its liquidation) is read as such."""
        self._markets = markets
        self._code = currency_code
        self._clock = clock
        self.rest_balance: dict[str, CurrencyBalance] = {}
        self._known = KnownOrders(clock)
        adapter = adapter_for(ref.venue)
        self._venue = adapter.normalise
        self._wallets = Wallets(adapter.quirks.wallets) if adapter.quirks.wallets else None
        self._unpushed = adapter.quirks.unpushed_wallet
        self.leverage: dict[str, float] = {}
        """Latest leverage per symbol, from positions and orders (stamped on fills)."""

    def _market(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        markets = self._markets
        found = markets.get(row.get("symbol")) if isinstance(markets, Mapping) else None
        return found if isinstance(found, Mapping) else {}

    def _envelope(self, payload: Payload, source: Source, exchange_ms: int | None) -> Envelope:
        return validate(
            Envelope(
                event_id=event_id(self.ref.ex_id, payload, exchange_ms),
                ex_id=self.ref.ex_id,
                uid=self.ref.uid,
                exchange=self.ref.venue,
                source=source,
                received_ms=self._clock(),
                payload=payload,
                exchange_ms=exchange_ms,
            )
        )

    def _dead(self, batch: Batch, reason: object, raw: Any) -> None:
        batch.dead.append(DeadPayload(f"{self.ref.venue} ex_id={self.ref.ex_id}: {reason}", _raw(raw)))

    def _add(
        self, batch: Batch, build: Callable[[], tuple[Payload, int | None]], source: Source, raw: Any
    ) -> None:
        try:
            payload, exchange_ms = build()
            batch.envelopes.append(self._envelope(payload, source, exchange_ms))
        except ContractError as e:
            self._dead(batch, e, raw)

    def use_wallets(self, wallets: tuple[tuple[str, ...], str | None] | None) -> None:
        """The account's wallets, where its mode differs from its venue's (``Reads.wallets``);
        a change starts the sums afresh, so nothing is published until each is read again."""
        if wallets is None:
            return
        names, unpushed = wallets
        if self._wallets is None or self._wallets.names != names or self._unpushed != unpushed:
            self._wallets, self._unpushed = Wallets(names), unpushed

    def wallet_ticket(self) -> int | None:
        """Taken before a REST balance request, handed to ``rest_balances`` with its answer
        (``Wallets.ticket``); None on an account with one wallet."""
        return None if self._wallets is None else self._wallets.ticket()

    def spot_moved(self, envelopes: Iterable[Envelope]) -> bool:
        """Whether fills or orders of ``envelopes`` (new to the service) trade a spot market on a
        venue whose spot wallet no stream reports; that wallet is then marked moved and owed a
        REST read (``Wallets.moved``). A read over WebSocket is told in ``Batch.wallet_moved``; a
        REST read of fills asks here for the fills the bus did not have."""
        return any(_trades_spot(e.payload) for e in envelopes) and self._moved_unseen()

    def _moved_unseen(self) -> bool:
        """The wallet no stream reports (``Quirks.unpushed_wallet``) moved: hold the sums until a
        read of it (``Wallets.moved``); False on a venue without one."""
        if self._unpushed is None or self._wallets is None:
            return False
        self._wallets.moved(self._unpushed)
        return True

    def rest_balances(
        self, balance: Mapping[str, Any], source: Source = Source.REST, ticket: int | None = None
    ) -> Batch:
        """A complete REST balance; remembered to complete later WebSocket updates. ``ticket``:
        ``wallet_ticket()`` from before the request."""
        batch = Batch()
        try:
            fixed = self._venue.rest_balance(balance)
        except ContractError as e:
            self._dead(batch, e, balance)
            return batch
        rows, rejected = (fixed, []) if fixed is not None else balance_rows(balance)
        for reason in rejected:
            self._dead(batch, reason, balance)
        self.rest_balance = dict(rows)
        self._add_balance(batch, balance, rows, not rejected, source, ticket)
        return batch

    def ws_balances(self, balance: Mapping[str, Any]) -> Batch:
        batch = Batch()
        try:
            markets = self._markets if isinstance(self._markets, Mapping) else {}
            rows, complete = self._venue.ws_balance(balance, self._code, self.rest_balance, markets)
        except ContractError as e:
            self._dead(batch, e, balance)
            return batch
        self._add_balance(batch, balance, rows, complete, Source.WS)
        return batch

    def _add_balance(
        self,
        batch: Batch,
        balance: Mapping[str, Any],
        rows: dict[str, CurrencyBalance],
        complete: bool,
        source: Source,
        ticket: int | None = None,
    ) -> None:
        """One wallet's read of an account with several (``Wallets``) is summed with the others,
        and held back until each of them has been read, and read again since it moved."""
        if self._wallets is not None and (wallet := self._venue.wallet_of(balance.get("info"))) is not None:
            summed = self._wallets.update(wallet, rows, whole=complete, ticket=ticket)
            if summed is None:
                return
            rows, complete = summed
        snapshot = BalanceSnapshot(balances=rows, partial=not complete)
        self._add(batch, lambda: (snapshot, _ts(balance)), source, balance)

    def orders(self, rows: Iterable[Any], source: Source) -> Batch:
        batch = Batch()
        for row in rows:
            if not isinstance(row, dict):
                batch.dead.append(DeadPayload("order row is not an object", _raw(row)))
                continue
            completed = self._complete_order(_fixed(self._venue.order_fixes, row, self._market(row)))
            if completed is None:
                batch.held_back += 1
                continue

            def build(r: dict[str, Any] = completed) -> tuple[Payload, int | None]:
                update = unified.order_update(r, self._markets)
                if update.leverage is not None:
                    self.leverage[update.symbol] = update.leverage
                return update, None

            self._add(batch, build, source, row)
        batch.wallet_moved = source is Source.WS and self.spot_moved(batch.envelopes)
        return batch

    def _complete_order(self, row: dict[str, Any]) -> dict[str, Any] | None:
        order_id = row.get("id")
        if order_id is None:
            return row
        key = str(order_id)
        known = self._known.get(key)
        missing = [f for f in IMMUTABLE_FIELDS if row.get(f) in (None, "")]
        if missing:
            if not known and any(f in missing for f in ("symbol", "side")):
                return None
            row = {**row, **{f: known[f] for f in missing if f in known}}
        status = unified.order_status(row)
        self._known.learn(key, row, final=status is not None and status.is_terminal)
        return row

    def expire(self) -> None:
        """Apply the order facts' time bounds now (the daemon's upkeep: an account at rest reads
        no order row that would)."""
        self._known.expire()

    def trades(self, rows: Iterable[Any], source: Source) -> Batch:
        batch = Batch()
        for row in rows:
            if not isinstance(row, dict):
                batch.dead.append(DeadPayload("trade row is not an object", _raw(row)))
                continue

            try:
                own = {**row, "account": self._address} if self._address else row
                fixed = _fixed(self._venue.trade_fixes, own, self._market(row))
            except NotAFill as e:
                _log.debug("not a fill; dropped", ex_id=self.ref.ex_id, reason=str(e), id=str(row.get("id")))
                continue

            def build(r: dict[str, Any] = fixed) -> tuple[Payload, int | None]:
                fill = unified.trade_fill(r, self._markets)
                leverage = self.leverage.get(fill.symbol)
                if fill.leverage is None and leverage is not None:
                    fill = msgspec.structs.replace(fill, leverage=leverage)
                return fill, fill.time_ms

            self._add(batch, build, source, row)
        batch.wallet_moved = source is Source.WS and self.spot_moved(batch.envelopes)
        return batch

    def ledger(self, rows: Iterable[Any], source: Source) -> Batch:
        """Ledger rows (ccxt ledger entries, or the venue's funding / transfer rows its adapter
        reads) -> ``LedgerEntry`` envelopes, stamped with the entry's venue time. Over
        WebSocket, any row but a funding payment may have moved the wallet no stream reports (a
        spot transfer, a perp <-> spot transfer, which is no entry)."""
        batch = Batch()
        markets = self._markets if isinstance(self._markets, Mapping) else {}
        moves = False
        for row in rows:
            if not isinstance(row, dict):
                batch.dead.append(DeadPayload("ledger row is not an object", _raw(row)))
                continue
            info = row.get("info")
            try:
                read = self._venue.ledger_fixes(row, info if isinstance(info, dict) else {}, markets)
                fixed = {**row, **read}
            except PendingLedgerEntry as e:
                batch.pending[e.key] = e.since_ms
                continue
            except VoidLedgerEntry as e:
                batch.void.add(e.key)
                continue
            except NotALedgerEntry as e:
                _log.debug("not a ledger entry; dropped", ex_id=self.ref.ex_id, reason=str(e))
                moves = True
                continue
            except ContractError as e:
                self._dead(batch, e, row)
                continue
            moves = moves or read.get("reason") != LedgerReason.FUNDING

            def build(r: dict[str, Any] = fixed) -> tuple[Payload, int | None]:
                entry = unified.ledger_entry(r, self._markets)
                return entry, entry.time_ms

            self._add(batch, build, source, row)
        batch.wallet_moved = moves and source is Source.WS and self._moved_unseen()
        return batch

    def positions(self, rows: Iterable[Any], source: Source, *, complete: bool) -> Batch:
        batch = Batch()
        parsed = []
        for row in rows:
            try:
                if not isinstance(row, dict):
                    raise ContractError("position row is not an object")
                parsed.append(unified.position(row, self._markets))
            except ContractError as e:
                self._dead(batch, e, row)
                complete = False
        for p in parsed:
            if p.leverage is not None:
                self.leverage[p.symbol] = p.leverage
        if complete:
            parsed = [p for p in parsed if p.volume > 0]
        elif not parsed:
            return batch
        snapshot = PositionSnapshot(positions=parsed, partial=not complete)
        self._add(batch, lambda: (snapshot, None), source, [])
        return batch


def _fixed(fix: Fix, row: dict[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` with the venue's corrections of the raw row ccxt keeps in ``info`` (none without one)."""
    info = row.get("info")
    if not isinstance(info, dict):
        return row
    changes = fix(row, info, market)
    return {**row, **changes} if changes else row


def _ts(balance: Mapping[str, Any]) -> int | None:
    value = balance.get("timestamp")
    return int(value) if isinstance(value, int | float) and value >= 0 else None
