"""Hypothesis strategies for bus entries a sink must refuse, one ``Bad`` per entry.

Each bad entry is a ``Bad`` (how, where, value) applied to the msgpack view of a *good* envelope
of the stream's kind, so the damage sits in an otherwise realistic entry: the sink cannot refuse
it for some other, easier reason. ``Bad`` prints as what it does, so a failing example reads
plainly and can be pinned with ``@example``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec
from hypothesis import strategies as st

from fullon_account_service.bus.streams import ENTRY_FIELD
from fullon_account_service.contract import Envelope
from fullon_account_service.contract.codec import MAX_EVENT_BYTES

Path = tuple[str | int, ...]

REQUIRED: dict[str, tuple[Path, ...]] = {
    "envelope": (("event_id",), ("ex_id",), ("uid",), ("exchange",), ("source",), ("received_ms",)),
    "balance": (("payload", "balances"), ("payload", "kind")),
    "position": (("payload", "positions"), ("payload", "positions", 0, "symbol"), ("payload", "kind")),
    "order": tuple(("payload", f) for f in ("ex_order_id", "symbol", "side", "order_type", "status", "kind")),
    "trade": tuple(
        ("payload", f)
        for f in ("ex_trade_id", "ex_order_id", "symbol", "side", "price", "volume", "cost", "time_ms")
    ),
    "ledger": tuple(
        ("payload", f) for f in ("ex_ledger_id", "currency", "amount", "reason", "time_ms", "kind")
    ),
}
"""Keys whose absence makes an entry undecodable (optional keys have defaults)."""

AMOUNTS: dict[str, tuple[Path, ...]] = {
    "balance": (("payload", "balances", "USDT", "total"), ("payload", "balances", "USDT", "free")),
    "position": (("payload", "positions", 0, "volume"), ("payload", "positions", 0, "entry_price")),
    "order": (("payload", "price"), ("payload", "volume"), ("payload", "filled")),
    "trade": (("payload", "price"), ("payload", "volume"), ("payload", "cost"), ("payload", "fee")),
    "ledger": (("payload", "fee"),),
}
"""Quantities: finite and non-negative in the contract (a ledger amount is signed: only its fee)."""

TEXTS: dict[str, tuple[Path, ...]] = {
    "balance": (("exchange",), ("event_id",)),
    "position": (("payload", "positions", 0, "symbol"), ("exchange",)),
    "order": (("payload", "symbol"), ("payload", "ex_order_id"), ("payload", "order_type")),
    "trade": (("payload", "symbol"), ("payload", "ex_trade_id"), ("event_id",)),
    "ledger": (("payload", "ex_ledger_id"), ("payload", "symbol"), ("payload", "raw_type")),
}


@dataclass(frozen=True)
class Bad:
    """One way to damage an entry. ``how`` names it; ``reason`` is the dead letter's reason must
    contain (``undecodable`` for what the codec refuses, ``rejected by handler`` for what the
    sink refuses)."""

    how: str
    path: Path = ()
    value: Any = None

    @property
    def reason(self) -> str:
        return "rejected by handler" if self.how in HANDLER_REFUSES else "undecodable"

    def fields(self, good: Envelope, foreign: Envelope) -> dict[bytes, bytes]:
        """The stream entry's fields: ``good`` damaged, or ``foreign`` (another kind) as it is."""
        if self.how == "no entry field":
            return {b"x": msgspec.msgpack.encode(good)}
        if self.how in ("random bytes", "msgpack of the wrong shape"):
            return {ENTRY_FIELD: self.value}
        if self.how == "foreign kind":
            return {ENTRY_FIELD: msgspec.msgpack.encode(foreign)}
        data: dict[str, Any] = msgspec.to_builtins(good)
        if self.how == "missing key":
            parent = _parent(data, self.path)
            parent.pop(self.path[-1])
        elif self.how == "oversized":
            data["junk"] = "x" * (MAX_EVENT_BYTES + 1)
        else:
            _parent(data, self.path)[self.path[-1]] = self.value
        return {ENTRY_FIELD: msgspec.msgpack.encode(data)}


HANDLER_REFUSES = frozenset({"foreign kind", "unknown account", "unusable fill"})


def _parent(data: Any, path: Path) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8)
_shapes = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def bad_entries(kind: str, *, unusable_fill: bool = False) -> st.SearchStrategy[Bad]:
    """Every kind of damage to an entry of ``kind``'s stream."""
    required = REQUIRED["envelope"] + REQUIRED[kind]
    # Containers are left out: an empty list or dict is a valid one.
    scalars = [p for p in required + AMOUNTS[kind] + TEXTS[kind] if p[-1] not in ("balances", "positions")]
    strategies = [
        st.binary(max_size=64).map(lambda b: Bad("random bytes", value=b)),
        # A bare scalar or list is never an envelope; a dict lacks the required keys.
        _shapes.map(lambda v: Bad("msgpack of the wrong shape", value=msgspec.msgpack.encode(v))),
        st.just(Bad("no entry field")),
        st.sampled_from(required).map(lambda p: Bad("missing key", p)),
        st.builds(
            Bad,
            st.just("wrong type"),
            st.sampled_from(scalars),
            st.sampled_from([[1], {"x": 1}, [], {}]),
        ),
        st.builds(
            Bad,
            st.just("bad number"),
            st.sampled_from(AMOUNTS[kind]),
            st.sampled_from([math.nan, math.inf, -math.inf, 1e301])
            | st.floats(max_value=-1e-9, allow_infinity=False),
        ),
        st.builds(
            Bad, st.just("huge string"), st.sampled_from(TEXTS[kind]), st.integers(300, 5000).map("y".__mul__)
        ),
        st.builds(
            Bad,
            st.just("unknown kind"),
            st.just(("payload", "kind")),
            st.text(min_size=1, max_size=12).filter(
                lambda k: k not in ("balance", "position", "order", "trade", "ledger")
            ),
        ),
        st.builds(
            Bad,
            st.just("newer major"),
            st.just(("v",)),
            st.integers(2, 999) | st.integers(2000, 10**6),
        ),
        st.just(Bad("oversized")),
        st.just(Bad("foreign kind")),
        st.builds(Bad, st.just("unknown account"), st.just(("ex_id",)), st.integers(90, 10**6)),
    ]
    if unusable_fill and kind == "trade":
        strategies.append(
            st.builds(
                Bad,
                st.just("unusable fill"),
                st.sampled_from([("payload", "price"), ("payload", "volume")]),
                st.just(0.0),
            )
        )
    return st.one_of(strategies)
