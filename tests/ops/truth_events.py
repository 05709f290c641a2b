"""A perfect producer, written from the ground truth: the events the service should publish.

Statuses follow what each venue reports (Kraken has no "rejected": it says canceled), written
out here on purpose rather than imported from ``verify.expect``, so the tests check that module
instead of agreeing with it. Balances are wallet balances on every venue, as the producers publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import factories
from fullon_account_service.contract import (
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    ExecKind,
    LedgerEntry,
    LedgerReason,
    OrderStatus,
    OrderUpdate,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
    TradeFill,
)
from fullon_account_service.contract.events import Payload
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.scenario import ScenarioConfig, ScenarioEngine, build_world
from fullon_account_service.simulator.truth import ground_truth

NOW_MS = 1_700_000_000_000


def simulated_truth(steps: int = 300, seed: int = 11) -> dict[str, Any]:
    """The truth of a short deterministic scenario: one account per venue."""
    config = ScenarioConfig(accounts_per_venue=1, seed=seed)
    clock = iter(range(NOW_MS, NOW_MS + 10_000_000, 7))
    world = build_world(config, now_ms=lambda: next(clock))
    ScenarioEngine(world, Ledger(world), config).run_steps(steps)
    return ground_truth(world)


def envelope(
    ex_id: int, venue: str, payload: Payload, exchange_ms: int, *, eid: str | None = None
) -> Envelope:
    return factories.envelope(
        payload, ex_id=ex_id, exchange=venue, source=Source.REST, exchange_ms=exchange_ms, eid=eid
    )


def fill_payload(fill: Mapping[str, Any]) -> TradeFill:
    return TradeFill(
        ex_trade_id=fill["id"],
        ex_order_id=fill["order_id"],
        symbol=fill["symbol"],
        side=Side(fill["side"]),
        price=fill["price"],
        volume=fill["amount"],
        cost=fill["cost"],
        time_ms=fill["ts_ms"],
        fee=fill["fee"],
        fee_currency=fill["fee_currency"],
        leverage=fill["leverage"],
        exec_kind=None if fill.get("exec_kind") is None else ExecKind(fill["exec_kind"]),
    )


def ledger_payload(entry: Mapping[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        ex_ledger_id=entry["id"],
        currency=entry["currency"],
        amount=entry["amount"],
        reason=LedgerReason(entry["reason"]),
        time_ms=entry["ts_ms"],
        raw_type=entry.get("raw_type"),
        symbol=entry.get("symbol"),
        fee=entry.get("fee"),
        fee_currency=entry.get("fee_currency"),
    )


def order_payload(order: Mapping[str, Any], status: str | None = None) -> OrderUpdate:
    return OrderUpdate(
        ex_order_id=order["id"],
        symbol=order["symbol"],
        side=Side(order["side"]),
        order_type=order["type"],
        status=OrderStatus(status or order["status"]),
        client_order_id=order["client_order_id"],
        price=order["price"],
        volume=order["amount"],
        filled=order["filled"],
        remaining=order["remaining"],
        average=order["average"],
        leverage=order["leverage"],
        created_ms=order["created_ms"],
        updated_ms=order["updated_ms"],
    )


def venue_balances(account: Mapping[str, Any]) -> dict[str, CurrencyBalance]:
    return {
        cur: CurrencyBalance(total=b["total"], free=b["free"], used=b["used"])
        for cur, b in account["balances"].items()
    }


def venue_status(venue: str, status: str) -> str:
    return "canceled" if (venue, status) == ("kraken", "rejected") else status


def positions_payload(account: Mapping[str, Any]) -> PositionSnapshot:
    return PositionSnapshot(
        positions=[
            Position(
                symbol=p["symbol"],
                side=PositionSide(p["side"]),
                volume=abs(p["contracts"]),
                entry_price=p["entry_price"],
                mark_price=p["mark_price"],
                leverage=p["leverage"],
                unrealized_pnl=p["unrealized_pnl"],
            )
            for p in account["positions"]
            if p["contracts"]
        ]
    )


def truth_envelopes(truth: Mapping[str, Any], ex_ids: Mapping[tuple[str, int], int]) -> list[Envelope]:
    """Every fill, every ledger entry, every order's final state, and one complete balance and
    position snapshot."""
    out: list[Envelope] = []
    for account in truth["accounts"]:
        venue = account["venue"]
        ex_id = ex_ids[(venue, account["index"])]
        for fill in account["fills"]:
            out.append(envelope(ex_id, venue, fill_payload(fill), fill["ts_ms"]))
        for entry in account.get("ledger") or []:
            out.append(envelope(ex_id, venue, ledger_payload(entry), entry["ts_ms"]))
        for order in account["orders"]:
            payload = order_payload(order, venue_status(venue, order["status"]))
            out.append(envelope(ex_id, venue, payload, order["updated_ms"]))
        out.append(envelope(ex_id, venue, BalanceSnapshot(balances=venue_balances(account)), NOW_MS * 2))
        out.append(envelope(ex_id, venue, positions_payload(account), NOW_MS * 2))
    return out
