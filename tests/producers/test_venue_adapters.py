"""Venue adapters: one folder per venue with the same file roles, a registry that sends every other
exchange id to the generic ccxt adapter, and the generic adapter reading ccxt's unified data as is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fullon_account_service.contract import Source
from fullon_account_service.producers import venues
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.normalise import Normaliser
from fullon_account_service.producers.venues import ADAPTERS, GENERIC, adapter_for

VENUES_DIR = Path(venues.__file__).parent
ROLES = frozenset({"__init__.py", "capabilities.py", "history.py", "normalise.py", "reads.py"})
SIMULATED = ("bybit", "hyperliquid", "kraken")


def roles(folder: Path) -> frozenset[str]:
    return frozenset(p.name for p in folder.glob("*.py"))


def venue_folders() -> list[Path]:
    return sorted(p for p in VENUES_DIR.iterdir() if (p / "__init__.py").is_file())


def test_every_venue_folder_has_the_same_file_roles() -> None:
    folders = venue_folders()
    assert {p.name for p in folders} == {*ADAPTERS, "generic"}, "a venue folder is not registered"
    for folder in folders:
        assert roles(folder) == ROLES, f"{folder.name}: {sorted(roles(folder) ^ ROLES)}"


def test_a_folder_missing_a_role_is_told_apart(tmp_path: Path) -> None:
    for name in ROLES - {"reads.py"}:
        (tmp_path / name).write_text("")
    assert roles(tmp_path) != ROLES


@pytest.mark.parametrize("venue", SIMULATED)
def test_each_simulated_venue_has_its_own_adapter_built_from_its_folder(venue: str) -> None:
    adapter = adapter_for(venue)
    assert adapter is ADAPTERS[venue] and adapter.name == venue and adapter is not GENERIC
    for role in ("capabilities", "history", "normalise", "reads"):
        module = getattr(adapter, role)
        assert module.__name__ == f"{venues.__name__}.{venue}.{role}"


@pytest.mark.parametrize("venue", ["binance", "okx", "not-a-ccxt-id"])
def test_any_other_exchange_id_resolves_to_the_generic_adapter(venue: str) -> None:
    adapter = adapter_for(venue)
    assert adapter is GENERIC and adapter.name == "generic"
    assert adapter.quirks.wallets == () and not adapter.quirks.ws_positions_complete
    assert adapter.reads.balance_params() == [{}] and adapter.reads.position_params({}) == [{}]


class _Session:
    """Records the ccxt calls a generic read makes."""

    def __init__(self, answer: list[dict[str, Any]]) -> None:
        self.ref = AccountRef(ex_id=1, uid=1, venue="binance")
        self.client = type("Client", (), {"has": {"fetchCanceledAndClosedOrders": False}})()
        self.answer = answer
        self.calls: list[tuple[Any, ...]] = []

    async def call(self, method: str, *args: Any) -> list[dict[str, Any]]:
        self.calls.append((method, *args))
        return self.answer


async def test_generic_history_is_one_call_per_read_taken_as_complete() -> None:
    session = _Session([{"id": "1", "timestamp": 5}])
    paging = adapter_for("binance").history
    pages: list[list[dict[str, Any]]] = []

    async def take(rows: list[dict[str, Any]]) -> None:
        pages.append(rows)

    fills = await paging.fetch_fills(session, 1_000, 2_000, 3_000, 50, take)  # type: ignore[arg-type]
    closed = await paging.fetch_closed_orders(session, 1_000, None, 3_000, 50, take)  # type: ignore[arg-type]
    assert fills.complete and closed.complete and pages == [session.answer, session.answer]
    assert session.calls == [
        ("fetch_my_trades", None, 1_000, None, {"until": 2_000}),
        ("fetch_closed_orders", None, 1_000, None, {}),
    ]


def test_generic_normalisation_takes_ccxt_unified_rows_as_they_are() -> None:
    """A Bybit-looking ``info`` means nothing on another venue: no fee rule, no trigger type."""
    norm = Normaliser(AccountRef(ex_id=2, uid=1, venue="binance"), {"BTC/USDT"}, str, lambda: 1)
    info = {"execType": "Funding", "execFee": "9", "stopOrderType": "StopLoss", "triggerPrice": "1"}
    trade = {
        "id": "T1",
        "order": "O1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "price": 100.0,
        "amount": 2.0,
        "timestamp": 1_700_000_000_000,
        "fee": {"cost": 0.1, "currency": "USDT"},
        "info": info,
    }
    fills = norm.trades([trade], Source.REST)
    assert [e.payload.fee for e in fills.envelopes] == [0.1]  # type: ignore[union-attr]
    order = {**trade, "status": "open", "type": "limit", "price": 100.0, "amount": 2.0}
    orders = norm.orders([order], Source.REST)
    assert [e.payload.order_type for e in orders.envelopes] == ["limit"]  # type: ignore[union-attr]
    balance = {"info": {}, "USDT": {"total": 5.0, "free": 4.0, "used": 1.0}}
    snapshot = norm.ws_balances(balance).envelopes[0].payload
    assert snapshot.balances["USDT"].free == 4.0 and snapshot.partial  # type: ignore[union-attr]
    bybit = Normaliser(AccountRef(ex_id=3, uid=1, venue="bybit"), {"BTC/USDT"}, str, lambda: 1)
    assert bybit.trades([trade], Source.REST).envelopes == [], "Bybit's adapter drops a funding row"
