"""ccxt's REST rate limiter, waking the event loop once per wait instead of every millisecond.

Why: ccxt's leaky bucket (``Throttler.leaky_bucket_loop``) waits for its tokens to refill by
sleeping ``tokenBucket["delay"]`` (1 ms) and looking again, so a request queued behind a venue's
rate limit (Kraken's: a second per call) wakes the loop ~1,000 times a second until it may go.
With nine simulated accounts polling, an idle producer ran its loop ~1,300 times a second for
that alone (bench/RESULTS.md, "h1, stop 23"). ``ExactThrottler`` sleeps once for the time its
deficit takes to refill at the venue's rate (never less than ccxt's delay), then goes on as
ccxt's loop does: the same tokens, costs, capacity and order, so requests leave no sooner than
ccxt would let them, and no later than the refill plus the loop's timer resolution. ccxt's
rolling-window algorithm, which no venue here uses, is left as it is.
"""

from __future__ import annotations

import asyncio
from time import time
from typing import Any

from ccxt.async_support.base.throttler import Throttler


class ExactThrottler(Throttler):  # type: ignore[misc]  # ccxt ships no type hints
    running: bool

    async def leaky_bucket_loop(self) -> None:
        config: dict[str, Any] = self.config
        last_ms = time() * 1000
        while self.running:
            future, cost = self.queue[0]
            cost = config["cost"] if cost is None else cost
            if config["tokens"] >= 0:
                config["tokens"] -= cost
                if not future.done():
                    future.set_result(None)
                self.queue.popleft()
                await asyncio.sleep(0)  # let the caller send before the next one is weighed
                if not self.queue:
                    self.running = False
                continue
            refill_ms = -config["tokens"] / config["refillRate"]
            await asyncio.sleep(max(config["delay"], refill_ms / 1000))
            now_ms = time() * 1000
            elapsed_ms, last_ms = now_ms - last_ms, now_ms
            config["tokens"] = min(config["tokens"] + elapsed_ms * config["refillRate"], config["capacity"])
