"""msgpack versus JSON for the event envelope: encode and decode speed, and size on the wire.

    uv run python bench/codec.py

Both use msgspec with the same typed ``Envelope`` decoder (strict, with bounds), so the numbers
compare the formats, not libraries.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import msgspec

from fullon_account_service.contract import KINDS, Envelope
from samples import envelope, mixed

N = 20_000
ROUNDS = 9

FORMATS: dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {
    "msgpack": (msgspec.msgpack.Encoder().encode, msgspec.msgpack.Decoder(Envelope).decode),
    "json": (msgspec.json.Encoder().encode, msgspec.json.Decoder(Envelope).decode),
}


def ns_per_item(func: Callable[[Any], Any], items: list[Any]) -> float:
    start = time.perf_counter_ns()
    for item in items:
        func(item)
    return (time.perf_counter_ns() - start) / len(items)


def measure(label: str, envelopes: list[Envelope]) -> dict[str, tuple[float, float, float]]:
    """Best of ``ROUNDS``, the formats interleaved round by round so load on the machine hits both."""
    blobs = {name: [encode(e) for e in envelopes] for name, (encode, _) in FORMATS.items()}
    for name, (_, decode) in FORMATS.items():
        assert [decode(b) for b in blobs[name][:50]] == envelopes[:50]
    enc: dict[str, list[float]] = {name: [] for name in FORMATS}
    dec: dict[str, list[float]] = {name: [] for name in FORMATS}
    for _ in range(ROUNDS):
        for name, (encode, decode) in FORMATS.items():
            enc[name].append(ns_per_item(encode, envelopes))
            dec[name].append(ns_per_item(decode, blobs[name]))
    results = {}
    for name in FORMATS:
        results[name] = (min(enc[name]), min(dec[name]), statistics.fmean(len(b) for b in blobs[name]))
    mp, js = results["msgpack"], results["json"]
    print(
        f"| {label:8} | {mp[0]:7.0f} | {js[0]:7.0f} | {mp[1]:7.0f} | {js[1]:7.0f} "
        f"| {mp[2]:6.0f} | {js[2]:6.0f} | {js[2] / mp[2]:5.2f} |"
    )
    return results


def main() -> None:
    print(f"{N} envelopes per kind, best of {ROUNDS} rounds; times in ns per event, sizes in bytes")
    print("| kind     | enc mp  | enc js  | dec mp  | dec js  | B mp   | B js   | js/mp |")
    print("|----------|---------|---------|---------|---------|--------|--------|-------|")
    for kind in KINDS:
        measure(kind, [envelope(i, kind) for i in range(N)])
    measure("mixed", mixed(N))


if __name__ == "__main__":
    main()
