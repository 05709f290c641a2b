"""Places that bound how many REST reads hold a venue's answer at once, held only from a
request's sending to the read's next request.

Why: an audit is a handful of requests (balance, orders, fills, ...) and the venue's rate limit
spaces them (Kraken: about a second each), so a place held for the whole audit was mostly held
asleep in ccxt's rate limiter: ten places served about ten audits every six seconds, and at
1,000 busy accounts 985 audits were always waiting (bench/RESULTS.md "Stop 29 (lead)"). What
a place bounds is memory: the decoded answer and the events made from it, until the outbox (which
has a bound of its own) takes them. A read queues each answer's events before it sends the next
request (``cursor_history``, ``order_history``), so between two requests it holds next to
nothing (an order read keeps the open list, a few orders, until its closed pages are out) and
needs no place.

A read opens ``taken_when_sent(places)`` around itself; the account client (``ws_guard``) calls
``give_back`` as a request enters ``fetch2`` (before the key lock and the rate limiter) and
``take`` once the rate limiter lets it go (before it is signed and sent). A holder thus never
waits for a key lock or another place, so places cannot deadlock. Requests outside such a block
(the WebSocket token Kraken's streams fetch, the open-order reads after a fill) take nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar


class _Place:
    __slots__ = ("held", "places")

    def __init__(self, places: asyncio.Semaphore) -> None:
        self.places = places
        self.held = False


_current: ContextVar[_Place | None] = ContextVar("fullon_read_place", default=None)


@asynccontextmanager
async def taken_when_sent(places: asyncio.Semaphore | None) -> AsyncIterator[None]:
    """Within the block, each request of this task holds one of ``places`` from its sending to
    the next request (or the block's end); ``None``: no bound."""
    if places is None:
        yield
        return
    place = _Place(places)
    token = _current.set(place)
    try:
        yield
    finally:
        _current.reset(token)
        _give_back(place)


async def take() -> None:
    """A request is about to be sent: take the read's place (waiting for one if none is free)."""
    place = _current.get()
    if place is not None and not place.held:
        await place.places.acquire()
        place.held = True


def give_back() -> None:
    """A request is about to wait (key lock, rate limit): the read's previous answer is queued,
    so its place goes to another read."""
    place = _current.get()
    if place is not None:
        _give_back(place)


def _give_back(place: _Place) -> None:
    if place.held:
        place.held = False
        place.places.release()
