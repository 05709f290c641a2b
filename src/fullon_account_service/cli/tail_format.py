"""What ``tail`` shows: where to start, which events pass the filters, and how each one looks.

Kept apart from the command so the read loop stays small and this part is testable without Redis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from rich.text import Text

from fullon_account_service.bus.streams import parse_id, previous_id
from fullon_account_service.contract import (
    BalanceSnapshot,
    Envelope,
    LedgerEntry,
    OrderUpdate,
    PositionSnapshot,
    TradeFill,
)

_EPOCH_MS_FROM = (
    100_000_000_000  # numbers this large are milliseconds (year 1973 onwards), smaller are seconds
)
_KIND_STYLE = {
    "balance": "cyan",
    "order": "yellow",
    "position": "magenta",
    "trade": "green",
    "ledger": "blue",
}
_MAX_CURRENCIES = 4


def start_id(value: str) -> str | None:
    """``--from`` as the exclusive XREAD start id; None means "now".

    Accepts ``now``, a stream id (``1700000000000-0``), an ISO time (naive is UTC) or an epoch
    number (seconds, or milliseconds when that large). Entries at exactly the given id or time
    are included.
    """
    text = value.strip()
    if text.lower() == "now":
        return None
    if "-" in text[1:] and text.replace("-", "").isdigit():
        return previous_id(text)
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if number < 0:
            raise ValueError(f"--from {value!r}: a time cannot be negative")
        ms = int(number) if number >= _EPOCH_MS_FROM else int(number * 1000)
        return previous_id(f"{ms}-0")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"--from {value!r}: expected now, a stream id, an ISO time or epoch seconds") from e
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return previous_id(f"{max(int(moment.timestamp() * 1000), 0)}-0")


@dataclass(frozen=True, slots=True)
class Filters:
    kinds: frozenset[str] = frozenset()
    ex_ids: frozenset[int] = frozenset()
    exchanges: frozenset[str] = frozenset()
    symbols: frozenset[str] = frozenset()

    def accepts(self, envelope: Envelope) -> bool:
        if self.kinds and envelope.kind not in self.kinds:
            return False
        if self.ex_ids and envelope.ex_id not in self.ex_ids:
            return False
        if self.exchanges and envelope.exchange not in self.exchanges:
            return False
        return not self.symbols or bool(self.symbols & symbols_of(envelope))

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.ex_ids or self.exchanges or self.symbols)


def symbols_of(envelope: Envelope) -> set[str]:
    """Balances have currencies, not symbols: a symbol filter leaves them out (and ledger entries
    without a market: deposits, withdrawals, transfers)."""
    payload = envelope.payload
    if isinstance(payload, OrderUpdate | TradeFill):
        return {payload.symbol}
    if isinstance(payload, LedgerEntry):
        return {payload.symbol} if payload.symbol else set()
    if isinstance(payload, PositionSnapshot):
        return {p.symbol for p in payload.positions}
    return set()


def entry_time(entry_id: str) -> str:
    ms = parse_id(entry_id)[0]
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%H:%M:%S.") + f"{ms % 1000:03d}"


def _num(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def summary(envelope: Envelope) -> str:
    p = envelope.payload
    if isinstance(p, TradeFill):
        fee = f" fee {_num(p.fee)} {p.fee_currency or ''}".rstrip() if p.fee is not None else ""
        return f"{p.side} {_num(p.volume)} {p.symbol} @ {_num(p.price)}{fee} trade {p.ex_trade_id}"
    if isinstance(p, OrderUpdate):
        return (
            f"{p.status} {p.side} {p.order_type} {_num(p.volume)} {p.symbol} @ {_num(p.price)}"
            f" filled {_num(p.filled)} order {p.ex_order_id}"
        )
    if isinstance(p, PositionSnapshot):
        if not p.positions:
            return "no open positions" + (" (partial)" if p.partial else "")
        return "; ".join(
            f"{x.symbol} {x.side} {_num(x.volume)} @ {_num(x.entry_price)} upnl {_num(x.unrealized_pnl)}"
            for x in p.positions
        )
    if isinstance(p, LedgerEntry):
        fee = f" fee {_num(p.fee)} {p.fee_currency or p.currency}" if p.fee is not None else ""
        where = f" {p.symbol}" if p.symbol else ""
        return f"{p.reason} {_num(p.amount)} {p.currency}{where}{fee} ledger {p.ex_ledger_id}"
    return _balance_summary(p)


def _balance_summary(p: BalanceSnapshot) -> str:
    parts = [
        f"{code} total={_num(b.total)} free={_num(b.free)} used={_num(b.used)}"
        for code, b in sorted(p.balances.items())[:_MAX_CURRENCIES]
    ]
    if len(p.balances) > _MAX_CURRENCIES:
        parts.append(f"+{len(p.balances) - _MAX_CURRENCIES} more")
    return "; ".join(parts) or "no balances"


def event_text(entry_id: str, envelope: Envelope) -> Text:
    kind = envelope.kind
    return Text.assemble(
        (entry_time(entry_id), "dim"),
        " ",
        (f"{kind:<8}", _KIND_STYLE[kind]),
        f" ex {envelope.ex_id} {envelope.exchange} {envelope.source:<9} ",
        summary(envelope),
    )


def event_json(stream: str, entry_id: str, envelope: Envelope) -> dict[str, Any]:
    return {
        "stream": stream,
        "entry_id": entry_id,
        "kind": envelope.kind,
        "envelope": msgspec.to_builtins(envelope),
    }


def undecodable_text(stream: str, entry_id: str, error: str) -> Text:
    return Text.assemble(
        (entry_time(entry_id), "dim"), " ", ("undecodable", "bold red"), f" {stream} {error}"
    )


def dead_letter_text(entry_id: str, fields: dict[str, str], envelope: Envelope | None) -> Text:
    origin = f"{fields.get('stream', '')} {fields.get('entry_id', '')}".strip() or "producer"
    by = f" {fields.get('group', '')}/{fields.get('consumer', '')}" if fields.get("group") else ""
    parts: list[str | tuple[str, str]] = [
        (entry_time(entry_id), "dim"),
        " ",
        ("dead    ", "bold red"),
        f" {origin}{by}: ",
        (fields.get("reason", ""), "red"),
    ]
    if envelope is not None:
        parts += ["\n    ", event_text(entry_id, envelope).plain]
    return Text.assemble(*parts)


def lines_of(values: Sequence[str] | None) -> frozenset[str]:
    return frozenset(v.strip() for v in values or () if v.strip())
