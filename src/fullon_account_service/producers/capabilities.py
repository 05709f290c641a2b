"""Which data kinds of an account are watched over WebSocket and which are polled over REST.

Decided per kind from ccxt's ``has`` (``watchBalance``, ``watchOrders``, ``watchPositions``,
``watchMyTrades``), then narrowed by the account's ``force_rest`` flag and by experience: a stream
that fails to subscribe or keeps failing is moved to REST for a cool-down, after which WebSocket
is tried again. Fills are always polled over REST as well (the cursor lives there); ``my_trades``
only says whether they are *also* watched.

    balance, orders and positions on WS -> FULL_WEBSOCKET
    some of them                        -> PARTIAL_WEBSOCKET
    none                                -> REST_ONLY

``ledger`` (funding, deposits, transfers...) is reported only for a venue that has one: ccxt's
``has`` lists one of the ledger calls its adapter reads (``Quirks.ledger_calls``); a venue
without any has no ``ledger`` key, and nothing asks it for one. Like fills, the ledger is
always read over REST from its own cursor; ``True`` says the venue also pushes it on a stream
the adapter reads (``Quirks.ledger_stream``).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ccxt.pro

from fullon_account_service.producers.account import AccountRef, account_ref
from fullon_account_service.producers.venues import adapter_for

KINDS = ("balance", "orders", "positions", "my_trades")
LEDGER = "ledger"
_HAS_KEY = {
    "balance": "watchBalance",
    "orders": "watchOrders",
    "positions": "watchPositions",
    "my_trades": "watchMyTrades",
}
_STRATEGY_KINDS = ("balance", "orders", "positions")


class CollectionStrategy(enum.Enum):
    FULL_WEBSOCKET = "full_websocket"
    PARTIAL_WEBSOCKET = "partial_websocket"
    REST_ONLY = "rest_only"


@dataclass(slots=True)
class _Experience:
    failures: int = 0
    demoted_until: float = 0.0


@dataclass(slots=True)
class CapabilityDetector:
    """Strategy and per-kind capabilities for an account (an ``Exchange`` row or ``AccountRef``).

    ``max_failures`` consecutive stream failures demote a kind to REST for ``cooldown_s`` seconds.
    """

    max_failures: int = 3
    cooldown_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    module: Any = ccxt.pro
    _has: dict[str, dict[str, Any]] = field(default_factory=dict)
    _experience: dict[tuple[int, str], _Experience] = field(default_factory=dict)

    def venue_has(self, venue: str) -> dict[str, Any]:
        """ccxt's ``has`` map for ``venue``, read from a throw-away instance once per venue."""
        if venue not in self._has:
            klass = getattr(self.module, venue, None)
            self._has[venue] = dict(klass().has) if klass is not None else {}
        return self._has[venue]

    async def get_capabilities(self, exchange: Any) -> dict[str, bool]:
        ref = account_ref(exchange)
        return self.capabilities(ref)

    async def detect_strategy(self, exchange: Any) -> CollectionStrategy:
        return self.strategy(self.capabilities(account_ref(exchange)))

    def capabilities(self, ref: AccountRef) -> dict[str, bool]:
        """Synchronous core of ``get_capabilities`` for callers already inside the producer."""
        has = self.venue_has(ref.venue)
        if ref.force_rest:
            caps = dict.fromkeys(KINDS, False)
        else:
            caps = {
                kind: has.get(_HAS_KEY[kind]) is True and not self._demoted(ref.ex_id, kind) for kind in KINDS
            }
        quirks = adapter_for(ref.venue).quirks
        if quirks.has_ledger(has):
            caps[LEDGER] = (
                quirks.ledger_stream and not ref.force_rest and not self._demoted(ref.ex_id, LEDGER)
            )
        return caps

    @staticmethod
    def strategy(capabilities: dict[str, bool]) -> CollectionStrategy:
        on_ws = [capabilities.get(kind, False) for kind in _STRATEGY_KINDS]
        if all(on_ws):
            return CollectionStrategy.FULL_WEBSOCKET
        if any(on_ws):
            return CollectionStrategy.PARTIAL_WEBSOCKET
        return CollectionStrategy.REST_ONLY

    def record_failure(self, ex_id: int, kind: str) -> bool:
        """Note a failed subscribe / stream error; True when the kind is now demoted to REST."""
        exp = self._experience.setdefault((ex_id, kind), _Experience())
        exp.failures += 1
        if exp.failures >= self.max_failures:
            exp.demoted_until = self.clock() + self.cooldown_s
            exp.failures = 0
            return True
        return False

    def demote(self, ex_id: int, kind: str) -> None:
        """Move ``kind`` to REST for the cool-down at once (e.g. the venue said NotSupported)."""
        exp = self._experience.setdefault((ex_id, kind), _Experience())
        exp.failures = 0
        exp.demoted_until = self.clock() + self.cooldown_s

    def record_success(self, ex_id: int, kind: str) -> None:
        exp = self._experience.get((ex_id, kind))
        if exp is not None:
            exp.failures = 0

    def _demoted(self, ex_id: int, kind: str) -> bool:
        exp = self._experience.get((ex_id, kind))
        return exp is not None and exp.demoted_until > self.clock()

    def is_demoted(self, ex_id: int, kind: str) -> bool:
        return self._demoted(ex_id, kind)

    def forget(self, ex_id: int) -> None:
        for key in [k for k in self._experience if k[0] == ex_id]:
            del self._experience[key]
