"""What the simulator did on purpose and who listens: fault counts and private subscriptions.

``FaultCounts`` counts every fault actually injected, per kind and per venue (a malformed frame is
counted when it was sent, not when the dice said so), so a run can check that the service's dead
letters hold exactly the damaged frames. Kinds: ``ws_drop``, ``malformed_frame``,
``truncated_frame``, ``duplicate_frame``, ``reordered_frame``, ``rate_limit``, ``server_error``,
``refused_connection``, ``slow_response``, ``rest_only_fill``, ``early_order_update``.

``SubscriptionBoard`` records, per account, each private channel's subscription: since when it is
active (simulator clock), how many sockets hold it now and how many times it was subscribed in
all (a reconnect subscribes again). Tests wait on it instead of sleeping::

    await sim.world.subscriptions.wait(account, {"executions", "balances"}, timeout_s=30)
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol


class _Account(Protocol):
    venue: str
    index: int


@dataclass(slots=True)
class FaultCounts:
    by_venue: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, venue: str, kind: str, n: int = 1) -> None:
        counts = self.by_venue.setdefault(venue, {})
        counts[kind] = counts.get(kind, 0) + n

    def totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self.by_venue.values():
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
        return dict(sorted(totals.items()))

    def count(self, kind: str, venue: str | None = None) -> int:
        if venue is not None:
            return self.by_venue.get(venue, {}).get(kind, 0)
        return sum(counts.get(kind, 0) for counts in self.by_venue.values())

    def as_json(self) -> dict[str, Any]:
        return {"total": self.totals(), "by_venue": {v: dict(c) for v, c in sorted(self.by_venue.items())}}


@dataclass(slots=True)
class Subscription:
    since_ms: int
    active: int = 0
    subscribes: int = 0


@dataclass(slots=True)
class SubscriptionBoard:
    accounts: dict[tuple[str, int], dict[str, Subscription]] = field(default_factory=dict)
    _waiters: set[asyncio.Event] = field(default_factory=set)

    def subscribed(self, account: _Account, channel: str, now_ms: int) -> None:
        channels = self.accounts.setdefault((account.venue, account.index), {})
        sub = channels.get(channel)
        if sub is None or sub.active == 0:
            sub = channels[channel] = Subscription(now_ms, 0, sub.subscribes if sub else 0)
        sub.active += 1
        sub.subscribes += 1
        for event in self._waiters:
            event.set()

    def unsubscribed(self, account: _Account, channel: str) -> None:
        sub = self.accounts.get((account.venue, account.index), {}).get(channel)
        if sub is not None and sub.active > 0:
            sub.active -= 1

    def of(self, account: _Account) -> dict[str, Subscription]:
        """The account's channels, active or not, by name."""
        return dict(self.accounts.get((account.venue, account.index), {}))

    def active(self, account: _Account) -> set[str]:
        return {name for name, sub in self.of(account).items() if sub.active > 0}

    async def wait(
        self, account: _Account, channels: Collection[str], timeout_s: float
    ) -> dict[str, Subscription]:
        """Until every channel in ``channels`` is active for ``account``; TimeoutError otherwise."""
        changed = asyncio.Event()
        self._waiters.add(changed)
        try:
            async with asyncio.timeout(timeout_s):
                while not set(channels) <= self.active(account):
                    await changed.wait()
                    changed.clear()
        finally:
            self._waiters.discard(changed)
        return self.of(account)

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {
                "venue": venue,
                "index": index,
                "channels": {
                    name: {"since_ms": s.since_ms, "active": s.active, "subscribes": s.subscribes}
                    for name, s in sorted(channels.items())
                },
            }
            for (venue, index), channels in sorted(self.accounts.items())
        ]
