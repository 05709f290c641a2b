"""The last state queued for the bus, per account: an event that repeats it is not sent again.

REST audits and reconciliations read again what the streams already said (open orders, the
closed orders and balances of the overlap), and a venue pushes an unchanged balance or position
snapshot now and then. Sinks keep the latest state, so a repeat only costs bus traffic, storage
work and CPU; this memory drops it before it is queued. Fills never pass through here (their own
memory is the session's ``published_fills``).

What counts as the same state:
- an order: same status, filled, average, fee (and fee currency), type, price, protection price,
  volume and trigger price (a REST read that tells the type a stream could not is a change);
- a balance: per currency, the same free/used/total; a complete snapshot is a repeat when a
  complete snapshot was queued before and it lists exactly the currencies queued since, each in
  its last queued state (the sink's account is then this snapshot already: a REST read after a
  stream's partial updates sends nothing when they said it all);
- a position: the same, per symbol (a complete snapshot likewise).

"Latest wins" holds because an event is compared with the last state *queued* for the same
order, currency or symbol, never with an older one: a state that differs from the latest, even
one seen before, goes out. The memory lives in the process, so a restarted producer publishes
its first state of everything again. It is bounded per account in count (the oldest-updated
entries go first) and in age (an entry not refreshed for ``max_age_s`` is forgotten); forgetting
only ever lets a repeat through.

A busy account closes more orders between two audits than that count bound holds, and an audit
lists them all again (issue 18). So the final (terminal) state last queued for each order is kept
apart, compactly (``FinalStates``: a 64-bit digest per order, no state), with its own larger
bound, and only there: a re-read of a closed order is a repeat when its state is exactly the final
one last queued for that order. The full entries hold what can still change (open orders,
currencies, symbols); a closed order's full state kept beside its digest held ~86 KiB per busy
account at rest (250 entries of ~350 bytes, bench/RESULTS.md "h2, stop 25") to tell apart only
what the digest tells apart.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from fullon_account_service.contract import BalanceSnapshot, Envelope, OrderUpdate, PositionSnapshot
from fullon_account_service.producers.final_states import FinalStates

MAX_ENTRIES_PER_ACCOUNT = 250
"""Open orders, currencies and symbols: what an open-order read or an audit lists again. An
account with more open orders than this sends some of them again on each read (a repeat, never a
loss); 250 entries are ~86 KiB per account (tracemalloc, bench/RESULTS.md "h1, stop 24")."""
MAX_AGE_S = 900.0
"""Three default audit intervals: what an audit or an open-order read lists again is refreshed
well before it expires; what no read lists any more need not be remembered."""

_encode = msgspec.json.Encoder().encode
Key = tuple[str, str]


@dataclass(slots=True)
class _Account:
    finals: FinalStates
    entries: OrderedDict[Key, tuple[Any, float]] = field(default_factory=OrderedDict)
    whole: set[str] = field(default_factory=set)
    """Kinds with a complete snapshot queued, while each key queued since is remembered."""
    snapshot_keys: dict[str, set[Key]] = field(default_factory=dict)
    """Kind (balances, positions) -> its keys in ``entries``, those of the last complete snapshot
    and of the partial updates since: what the sink's account holds. A complete snapshot forgets
    the others without a scan of every order remembered."""

    def forget(self, key: Key) -> None:
        self.whole.discard(key[0])
        keys = self.snapshot_keys.get(key[0])
        if keys is not None:
            keys.discard(key)


class PublishedStates:
    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES_PER_ACCOUNT,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_entries
        self._max_age = max_age_s
        self._clock = clock
        self._accounts: dict[int, _Account] = {}
        self.repeats = 0
        """Events dropped as repeats since start (the sensor's view of what this saves)."""

    def fresh(self, envelopes: Iterable[Envelope]) -> list[Envelope]:
        """The envelopes that change a state (or carry no state: fills), remembered as queued."""
        now = self._clock()
        out = []
        for envelope in envelopes:
            if self._changes(envelope, now):
                out.append(envelope)
            else:
                self.repeats += 1
        return out

    def forget(self, ex_id: int) -> None:
        """An account no longer collected here: its next start publishes everything again."""
        self._accounts.pop(ex_id, None)

    def forget_all(self) -> None:
        """The bus failed: a Redis that dies may lose writes it had acknowledged (an append-only
        file synced every second), so no state is known to be on the bus any more, and the next
        read of each state must be published again rather than dropped as a repeat."""
        self._accounts.clear()

    def entries(self, ex_id: int) -> int:
        account = self._accounts.get(ex_id)
        return len(account.entries) if account is not None else 0

    def _changes(self, envelope: Envelope, now: float) -> bool:
        payload = envelope.payload
        if not isinstance(payload, OrderUpdate | BalanceSnapshot | PositionSnapshot):
            return True
        account = self._accounts.get(envelope.ex_id)
        if account is None:
            account = self._accounts[envelope.ex_id] = _Account(finals=FinalStates(self._max_age))
        self._expire(account, now)
        changed = self._changed(account, payload, now)
        self._bound(account)
        return changed

    def _changed(
        self, account: _Account, payload: OrderUpdate | BalanceSnapshot | PositionSnapshot, now: float
    ) -> bool:
        if isinstance(payload, OrderUpdate):
            return _order_changed(account, payload, now)
        if isinstance(payload, BalanceSnapshot):
            kind = "b"
            states: dict[Key, Any] = {(kind, c): _encode(b) for c, b in payload.balances.items()}
        else:
            kind = "p"
            states = {(kind, p.symbol): _encode(p) for p in payload.positions}
        known = account.snapshot_keys.setdefault(kind, set())
        if payload.partial:
            known.update(states)
            return _put(account, states, now)
        changed = kind not in account.whole or known != states.keys()
        account.whole.add(kind)
        for key in known.difference(states):
            account.entries.pop(key, None)
        account.snapshot_keys[kind] = set(states)
        return _put(account, states, now) or changed

    def _expire(self, account: _Account, now: float) -> None:
        entries = account.entries
        while entries:
            key, (_, at) = next(iter(entries.items()))
            if now - at < self._max_age:
                return
            del entries[key]
            account.forget(key)

    def _bound(self, account: _Account) -> None:
        while len(account.entries) > self._max:
            key, _ = account.entries.popitem(last=False)
            account.forget(key)


def _order_state(order: OrderUpdate) -> tuple[Any, ...]:
    return (
        order.status,
        order.filled,
        order.average,
        order.fee,
        order.fee_currency,
        order.order_type,
        order.price,
        order.protection_price,
        order.volume,
        order.trigger_price,
    )


def _order_changed(account: _Account, order: OrderUpdate, now: float) -> bool:
    """A final state is remembered only as its digest; an order's entry holds its state while open
    (a final state never equals an open one, so a final digest and an entry never both hold)."""
    key: Key = ("o", order.ex_order_id)
    state = _order_state(order)
    if order.status.is_terminal:
        was_open = account.entries.pop(key, None) is not None
        if not was_open and account.finals.repeats(order.ex_order_id, state, now):
            return False
        account.finals.queued(order.ex_order_id, state, now)
        return True
    account.finals.queued(order.ex_order_id, None, now)
    return _put(account, {key: state}, now)


def _put(account: _Account, states: dict[Key, Any], now: float) -> bool:
    """Remember ``states`` as the latest; True if any of them differs from what was remembered."""
    changed = False
    for key, state in states.items():
        old = account.entries.pop(key, None)
        changed = changed or old is None or old[0] != state
        account.entries[key] = (state, now)
    return changed
