"""Scenario: which accounts exist (``build_world``) and what happens to them (``ScenarioEngine``).

Everything is drawn from ``random.Random(seed)``: the same seed and the same number of steps give
the same world, provided the clock is injected too (``build_world(config, now_ms=clock)``), because
timestamps are part of the ground truth. ``run()`` paces steps at ``rate_per_s`` in wall time,
batching several steps per tick at high rates.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from fullon_account_service.simulator.catalog import catalog
from fullon_account_service.simulator.credentials import make_credentials
from fullon_account_service.simulator.ledger import Ledger
from fullon_account_service.simulator.model import Faults, SimAccount, SimBalance, World
from fullon_account_service.simulator.venue_actions import VenueActions

VENUES: tuple[str, ...] = ("kraken", "bybit", "hyperliquid")

_START_BALANCES: dict[str, dict[str, float]] = {
    "kraken": {"USD": 100_000.0, "EUR": 50_000.0, "BTC": 1.0, "ETH": 10.0},
    "bybit": {"USDT": 100_000.0},
    "hyperliquid": {"USDC": 100_000.0},
}

_SPOT_WALLETS: dict[str, dict[str, float]] = {"hyperliquid": {"USDC": 5_000.0, "HYPE": 25.0}}
"""Hyperliquid keeps spot tokens in a wallet of their own (``spotClearinghouseState``)."""
_ISOLATED: dict[str, tuple[str, ...]] = {"hyperliquid": ("ETH/USDC:USDC",)}
"""Symbols even-numbered accounts trade in isolated margin."""

_FUNDING_SCALES = (1.0, 0.5, -0.5, -1.0)
_MIN_TICK_S = 0.01
_MAX_STEPS_PER_TICK = 2_000


@dataclass(frozen=True, slots=True)
class ScenarioConfig:
    venues: tuple[str, ...] = VENUES
    accounts_per_venue: int = 2
    seed: int = 7
    rate_per_s: float = 20.0
    funding_every_s: float = 60.0
    """Scenario time between funding payments on open perp positions (epoch-aligned, as venues)."""
    funding_rate: float = 0.0001
    """Funding rate per interval (a fraction of the position's value); each interval and symbol
    pays it at a seeded sign and size (x1, x0.5, -0.5 or -1): longs pay when positive."""

    def __post_init__(self) -> None:
        unknown = set(self.venues) - set(VENUES)
        if unknown:
            raise ValueError(f"unknown venues {sorted(unknown)}; known: {', '.join(VENUES)}")
        if not 1 <= self.accounts_per_venue <= 1000:
            raise ValueError("accounts_per_venue must be between 1 and 1000")
        if self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if self.funding_every_s <= 0:
            raise ValueError("funding_every_s must be positive")
        if not 0 <= self.funding_rate < 0.01:
            raise ValueError("funding_rate must be in [0, 0.01)")


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def build_world(
    config: ScenarioConfig, now_ms: Callable[[], int] | None = None, faults: Faults | None = None
) -> World:
    """Accounts with deterministic credentials and starting balances (scaled a little per index)."""
    markets = catalog()
    accounts: list[SimAccount] = []
    for venue in config.venues:
        for index in range(config.accounts_per_venue):
            creds = make_credentials(config.seed, venue, index)
            scale = 1.0 + 0.1 * index
            balances = {cur: SimBalance(amount * scale) for cur, amount in _START_BALANCES[venue].items()}
            account = SimAccount(venue, index, creds.api_key, creds.secret, creds.wallet_address, balances)
            account.spot = {
                cur: SimBalance(amount * scale) for cur, amount in _SPOT_WALLETS.get(venue, {}).items()
            }
            if index % 2 == 0:
                account.isolated = set(_ISOLATED.get(venue, ()))
            accounts.append(account)
    return World(
        markets={v: markets[v] for v in config.venues},
        accounts=accounts,
        faults=faults or Faults(),
        now_ms=now_ms or wall_clock_ms,
        seed=config.seed,
    )


class ScenarioEngine:
    """Draws one action per step for a random account and lets the ledger apply it."""

    def __init__(self, world: World, ledger: Ledger, config: ScenarioConfig) -> None:
        self.world = world
        self.ledger = ledger
        self.config = config
        self.steps = 0
        self._rng = random.Random(config.seed)
        self._actions = VenueActions(ledger, self._rng)
        actions = self._actions
        self._weighted: list[tuple[Callable[[SimAccount], bool], int]] = [
            (actions.progress, 30),
            (actions.place_limit, 20),
            (actions.place_market, 12),
            (actions.move_price, 12),
            (actions.cancel, 8),
            (actions.reduce_or_flip, 8),
            (actions.reject, 4),
            (actions.deposit, 3),
            (actions.withdraw, 3),
            (actions.place_trigger, 3),
            (actions.trigger_or_cancel, 3),
            (actions.liquidate, 1),
            (actions.transfer, 2),
            (actions.credit, 1),
        ]
        self._fallbacks = (actions.place_limit, actions.progress, actions.move_price)
        self._accounts = [a for a in world.accounts if a.venue in config.venues]
        self._funding_every_ms = max(int(config.funding_every_s * 1000), 1)
        self._next_funding_ms: int | None = None

    def step(self) -> None:
        self._fund_when_due()
        account = self._rng.choice(self._accounts)
        funcs, weights = zip(*self._weighted, strict=True)
        action = self._rng.choices(funcs, weights)[0]
        if not action(account):
            for fallback in self._fallbacks:
                if fallback(account):
                    break
        self.steps += 1

    def _fund_when_due(self) -> None:
        """At each funding time (multiples of ``funding_every_s`` of the world clock) every open perp
        position pays or receives; intervals the clock skipped are not paid twice."""
        now = self.world.now_ms()
        due = self._next_funding_ms
        if due is not None and now < due:
            return
        self._next_funding_ms = (now // self._funding_every_ms + 1) * self._funding_every_ms
        if due is None:
            return
        rates: dict[tuple[str, str], float] = {}
        for account in self._accounts:
            for symbol in sorted(account.positions):
                key = (account.venue, symbol)
                if key not in rates:
                    rates[key] = self.config.funding_rate * self._rng.choice(_FUNDING_SCALES)
                if rates[key]:
                    self.ledger.funding(account, symbol, rates[key])

    def run_steps(self, n: int) -> None:
        for _ in range(n):
            self.step()

    async def run(self, stop: asyncio.Event) -> None:
        """Step at ``rate_per_s`` until ``stop`` is set; catches up in batches when behind."""
        loop = asyncio.get_running_loop()
        rate = self.config.rate_per_s
        start = loop.time()
        done = 0
        while not stop.is_set():
            due = int((loop.time() - start) * rate) - done
            batch = min(max(due, 0), _MAX_STEPS_PER_TICK)
            self.run_steps(batch)
            done += batch if due <= _MAX_STEPS_PER_TICK else due
            wait = max((done + 1) / rate - (loop.time() - start), _MIN_TICK_S)
            try:
                await asyncio.wait_for(stop.wait(), timeout=wait)
            except TimeoutError:
                continue
