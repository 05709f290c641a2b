"""What the dashboard draws, as plain frozen values: no live object, no I/O.

Apart from ``state`` (which reads them from Redis, the database and the producer) so that the
dashboard, and the demo's first frame, need none of those imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccountLine:
    ex_id: int
    venue: str
    name: str
    strategy: str
    stream: str
    last_event_age_s: float | None


@dataclass(frozen=True, slots=True)
class BalanceLine:
    ex_id: int
    currency: str
    total: float | None
    free: float | None
    used: float | None


@dataclass(frozen=True, slots=True)
class OrderLine:
    ex_id: int
    symbol: str
    side: str
    volume: float | None
    price: float | None
    filled: float | None


@dataclass(frozen=True, slots=True)
class PositionLine:
    ex_id: int
    symbol: str
    side: str
    volume: float
    entry_price: float | None
    unrealized_pnl: float | None


@dataclass(frozen=True, slots=True)
class FillLine:
    ex_id: int
    symbol: str
    side: str
    volume: float
    price: float
    fee: float | None
    fee_currency: str | None
    realised_pnl: float | None
    time_ms: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    elapsed_s: float
    phase: str
    """``starting`` (simulator and services coming up), ``running``, ``settling`` (engine stopped,
    books catching up) or ``done`` (stopped)."""
    duration_s: float | None = None
    accounts: Sequence[AccountLine] = ()
    balances: Sequence[BalanceLine] = ()
    open_orders: Sequence[OrderLine] = ()
    open_orders_total: int = 0
    positions: Sequence[PositionLine] = ()
    fills: Sequence[FillLine] = ()
    fills_total: int = 0
    events_by_kind: Mapping[str, int] = field(default_factory=dict)
    events_per_s: float = 0.0
    scenario_steps: int = 0
    lag: int = 0
    pending: int = 0
    dead_letters: int = 0
    log_path: str = ""

    @property
    def events_total(self) -> int:
        return sum(self.events_by_kind.values())
