"""Ground truth as plain JSON: what checkers compare the service's output against.

Accounts are identified by venue, index and a non-secret label (Hyperliquid's wallet address is
public; API keys and secrets never appear). Orders are listed in creation order, fills and
``ledger`` entries in time order; balances carry total/used/free, positions their entry, mark and
unrealised pnl. A ledger entry's ``amount`` is signed from the account's side and excludes its
``fee`` (the balance moved by ``amount - fee``); ``id`` is the venue's ledger id.
``balances`` is what the account holds per currency across its wallets (Hyperliquid's spot wallet
added to its perp account, as the producers publish it); ``spot_balances`` lists the spot wallet alone.
The faults the run injected are counted alongside, so a checker can match them against dead letters.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fullon_account_service.simulator.history import TruthRecorder
from fullon_account_service.simulator.model import (
    SimAccount,
    SimFill,
    SimLedgerEntry,
    SimOrder,
    SimPosition,
    World,
)

_ORDER_NAMES = {"order_id": "id", "order_type": "type"}
_FILL_NAMES = {"trade_id": "id"}
"""The simulator's field names that the truth file spells the way ccxt does."""
_ORDER_INTERNAL = frozenset({"builder_fee_rate"})
"""Fields of how the simulator charges, not of what the venue shows."""
_LEDGER_NAMES = {"entry_id": "id"}
_LEDGER_INTERNAL = frozenset({"balance_after", "funding", "liquidation", "requested_ms"})
"""Rendering inputs (the balance after, a funding's position and rate, a liquidation's fill, when a
transfer that waited was asked for), not part of the entry's truth."""


def _record(
    record: SimOrder | SimFill | SimPosition | SimLedgerEntry,
    names: Mapping[str, str] | None = None,
    leave_out: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """A record's fields under their truth names: the file follows the records, never a copy."""
    names = names or {}
    return {
        names.get(f.name, f.name): getattr(record, f.name)
        for f in dataclasses.fields(record)
        if f.name not in leave_out
    }


def _order(o: SimOrder) -> dict[str, Any]:
    return {**_record(o, _ORDER_NAMES, _ORDER_INTERNAL), "remaining": o.remaining, "average": o.average}


def _position(p: SimPosition) -> dict[str, Any]:
    return {
        **_record(p),
        "side": p.side,
        "unrealized_pnl": p.unrealized_pnl,
        "margin": p.margin,
        "liquidation_price": p.liquidation_price,
    }


def _ledger_entry(e: SimLedgerEntry) -> dict[str, Any]:
    return {**_record(e, _LEDGER_NAMES, _LEDGER_INTERNAL), "fee_currency": e.fee_currency}


def account_truth(account: SimAccount, recorder: TruthRecorder | None = None) -> dict[str, Any]:
    truth: dict[str, Any] = {
        "venue": account.venue,
        "index": account.index,
        "wallet_address": account.wallet_address,
        "balances": {
            cur: {"total": b.total, "used": b.used, "free": b.free}
            for cur, b in sorted(account.held().items())
        },
        "spot_balances": {
            cur: {"total": b.total, "used": b.used, "free": b.free} for cur, b in sorted(account.spot.items())
        },
        "positions": [_position(p) for _, p in sorted(account.positions.items())],
        "orders": [_order(o) for o in account.orders.values()],
        "fills": [_record(f, _FILL_NAMES) for f in account.fills],
        "ledger": [_ledger_entry(e) for e in account.ledger],
    }
    if recorder is not None:
        truth.update(recorder.history(account))
    return truth


def ground_truth(world: World, recorder: TruthRecorder | None = None) -> dict[str, Any]:
    """With a ``recorder`` each account also carries ``balance_history`` and ``position_history``.
    ``faults_injected`` counts the faults the run injected, per kind and per venue."""
    return {
        "seed": world.seed,
        "faults_injected": world.fault_counts.as_json(),
        "accounts": [account_truth(a, recorder) for a in world.accounts],
    }


def simulator_stats(world: World) -> dict[str, Any]:
    """Faults injected so far and each account's private subscriptions (``GET /stats``)."""
    return {
        "faults_injected": world.fault_counts.as_json(),
        "subscriptions": world.subscriptions.as_json(),
    }


def write_truth(world: World, path: str | Path, recorder: TruthRecorder | None = None) -> None:
    """Write atomically (temp file then rename) so a checker never reads half a file."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(ground_truth(world, recorder), indent=1, sort_keys=True))
    tmp.replace(target)
