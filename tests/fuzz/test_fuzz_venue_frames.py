"""Malformed venue frames through real ccxt parsing and our normalisers, per simulated venue.

Good frames are the simulator's own (``venue_frames.record``); bad ones are non-JSON, truncated or
malformed JSON, oversized frames, and good frames (with ids of their own) whose fields were
removed or given wrong types, NaN, infinities, negative or huge amounts, unknown symbols or
unknown order ids. A random mix is fed to a fresh client through its socket reader, as the
producer's would be, and:
- nothing escapes the reader or the normaliser;
- a frame ccxt could not read is dead-lettered by the session with a one-line reason naming the
  venue and account; a row the normaliser refuses is dead-lettered with one too;
- each good frame publishes exactly what it publishes with no bad frame around it.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from venue_frames import Output, Recording, Replayer, dumps, record, rekey

FUZZ = settings(
    max_examples=20,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # each example builds a ccxt client
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALUES = st.sampled_from(
    [math.nan, math.inf, -math.inf, -1.0, -1, 1e308, 10**30, "NaN", "inf", "-5", "1e400", "", "abc", None]
) | st.sampled_from([[], {}, [1, 2], {"a": {}}, True, "ZZZ/QQQ", "ZZZQQQ", "unknown-order-1"])


@dataclass(frozen=True)
class BadFrame:
    """How to damage a recorded frame (``template`` picks it): printed plainly for ``@example``."""

    how: str
    template: int
    where: int = 0
    value: Any = None

    def text(self, recording: Recording) -> str:
        good = recording.frames[self.template % len(recording.frames)]
        if self.how == "not json":
            return str(self.value)
        if self.how == "truncated":
            return good[: self.where % len(good)]
        if self.how == "malformed":
            return "{malformed " + good[1:]
        data = rekey(json.loads(good), recording.ids)
        if self.how == "oversized":
            _leaves(data)[0][0]["pad"] = "x" * 1_200_000
            return dumps(data)
        leaves = _leaves(data)
        parent, key = leaves[self.where % len(leaves)]
        if self.how == "missing key":
            del parent[key]
        else:
            parent[key] = self.value
        return json.dumps(data, separators=(",", ":"))  # NaN and Infinity as Python writes them


def _leaves(value: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every scalar in ``value``, depth first."""
    out: list[tuple[Any, Any]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        if isinstance(child, dict | list):
            out += _leaves(child)
        else:
            out.append((value, key))
    return out


_index = st.integers(0, 10_000)
BAD = st.one_of(
    st.builds(BadFrame, st.just("not json"), _index, st.just(0), st.text(max_size=40)),
    st.builds(BadFrame, st.just("truncated"), _index, _index),
    st.builds(BadFrame, st.just("malformed"), _index),
    st.builds(BadFrame, st.just("oversized"), _index),
    st.builds(BadFrame, st.just("missing key"), _index, _index),
    st.builds(BadFrame, st.just("bad value"), _index, _index, VALUES),
)
FRAMES = st.lists(st.integers(0, 10_000) | BAD, min_size=1, max_size=8)


@pytest.fixture(params=["bybit", "kraken", "hyperliquid"])
async def recording(request: pytest.FixtureRequest) -> AsyncIterator[Recording]:
    recorded = await record(request.param)
    yield recorded
    await recorded.loader.close()


def _feed(recording: Recording, frames: list[str]) -> tuple[list[Output], Replayer]:
    replayer = Replayer(recording)
    return [replayer.feed(recording.url, text) for text in frames], replayer


@pytest.mark.once
@FUZZ
@given(items=FRAMES)
async def test_bad_frames_are_dead_lettered_and_good_ones_publish_unchanged(
    items: list[int | BadFrame], recording: Recording
) -> None:
    texts = [
        recording.frames[i % len(recording.frames)] if isinstance(i, int) else i.text(recording)
        for i in items
    ]
    mixed, replayer = _feed(recording, texts)
    goods = [t for i, t in zip(items, texts, strict=True) if isinstance(i, int)]
    alone, clean = _feed(recording, goods)
    try:
        venue = recording.venue
        published_by_goods = [out for i, out in zip(items, mixed, strict=True) if isinstance(i, int)]
        assert [o.envelopes for o in published_by_goods] == [o.envelopes for o in alone]
        assert all(not o.dead for o in alone)

        assert replayer.session.bad_frames == len(replayer.letters)
        for letter in replayer.letters:
            assert letter.reason.startswith(f"bad websocket frame: {venue} ex_id=1 "), letter.reason
            assert letter.reason.splitlines() == [letter.reason]
            assert len(letter.payload) <= 16 * 1024
        for out in mixed:
            for dead in out.dead:
                assert (
                    dead.reason.startswith(f"{venue} ex_id=1: ") or "row is not an object" in dead.reason
                ), dead
    finally:
        await replayer.close()
        await clean.close()
