"""One reading of everything the dashboard shows, as plain frozen values (``snapshot``).

The reader looks where an operator would: balances and positions in AccountCache, orders and
fills (with the realised PnL the ORM sink computed) in the database, each account's strategy and
stream state from the running producer, lag and pending from the consumer groups. Keeping the
``Snapshot`` free of live objects lets the dashboard be a pure function, tested without any of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.bus.streams import dead_letter_key
from fullon_account_service.contract import OrderStatus
from fullon_account_service.demo.counters import EventCounter
from fullon_account_service.demo.snapshot import (
    AccountLine,
    BalanceLine,
    FillLine,
    OrderLine,
    PositionLine,
    Snapshot,
)
from fullon_account_service.demo.wiring import DemoAccount
from fullon_account_service.health import read_groups
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.redaction import redact_text
from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.cache_shapes import ACCOUNT_DATE
from fullon_account_service.storage.db.errors import translating
from fullon_account_service.storage.db.models import Order, Trade

MAX_ORDERS = 10
MAX_FILLS = 8


def stream_state(ctx: ProducerContext, ref: AccountRef | None, poll_interval_s: float) -> tuple[str, str]:
    """(strategy, stream state) of one account as the producer sees it right now."""
    if ref is None:
        return "-", "waiting for discovery"
    caps = ctx.detector.capabilities(ref)
    strategy = ctx.detector.strategy(caps).value
    status, message = ctx.status.get(ref.ex_id, ("starting", ""))
    if status == "error":
        return strategy, redact_text(f"error: {message}")[:80]
    session = ctx.registry.get(ref.ex_id)
    if session is None:
        return strategy, "connecting"
    streams = [kind for kind, on_ws in caps.items() if on_ws]
    if not streams:
        state = f"REST every {poll_interval_s:g}s"
    else:
        down = sorted(kind for kind in streams if kind in session.fast_poll)
        live = [k for k in streams if k in session.last_ws_at and k not in session.fast_poll]
        state = f"WS {len(live)}/{len(streams)} live"
        if down:
            state += f", REST covers {', '.join(down)}"
    if message and message != "collecting":
        state += f" ({redact_text(message)[:40]})"
    return strategy, state


class StateReader:
    def __init__(
        self,
        *,
        accounts: Sequence[DemoAccount],
        context: ProducerContext,
        refs: Callable[[], Mapping[int, AccountRef]],
        counter: EventCounter,
        redis: aioredis.Redis,
        session_factory: async_sessionmaker[AsyncSession],
        steps: Callable[[], int],
        prefix: str,
        partitions: int,
        poll_interval_s: float,
        log_path: str,
        duration_s: float | None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._accounts = list(accounts)
        self._ex_ids = [a.ex_id for a in self._accounts]
        self._ctx = context
        self._refs = refs
        self._counter = counter
        self._redis = redis
        self._factory = session_factory
        self._steps = steps
        self._prefix = prefix
        self._partitions = partitions
        self._poll_s = poll_interval_s
        self._log_path = log_path
        self._duration_s = duration_s
        self._clock = clock
        self._wall = wall
        self._started = clock()

    async def read(self, phase: str) -> Snapshot:
        orders, orders_total, fills, fills_total = await self._books()
        balances, positions = await self._cache()
        lag = pending = 0
        for group in await read_groups(self._redis, self._prefix, self._partitions):
            lag += group.lag
            pending += group.pending
        return Snapshot(
            elapsed_s=self._clock() - self._started,
            phase=phase,
            duration_s=self._duration_s,
            accounts=self._account_lines(),
            balances=balances,
            open_orders=orders,
            open_orders_total=orders_total,
            positions=positions,
            fills=fills,
            fills_total=fills_total,
            events_by_kind=dict(self._counter.by_kind),
            events_per_s=self._counter.rate(),
            scenario_steps=self._steps(),
            lag=lag,
            pending=pending,
            dead_letters=int(await self._redis.xlen(dead_letter_key(self._prefix))),
            log_path=self._log_path,
        )

    def _account_lines(self) -> list[AccountLine]:
        refs = self._refs()
        now = self._wall()
        lines = []
        for account in self._accounts:
            strategy, state = stream_state(self._ctx, refs.get(account.ex_id), self._poll_s)
            last = self._counter.last_event_at.get(account.ex_id)
            lines.append(
                AccountLine(
                    account.ex_id,
                    account.venue,
                    account.name,
                    strategy,
                    state,
                    None if last is None else max(now - last, 0.0),
                )
            )
        return lines

    async def _cache(self) -> tuple[list[BalanceLine], list[PositionLine]]:
        cache = AccountCache(self._redis)
        documents = await cache.get_all_accounts()
        all_positions = await cache.get_all_positions()
        balances: list[BalanceLine] = []
        positions: list[PositionLine] = []
        for ex_id in self._ex_ids:
            document = documents.get(str(ex_id)) or {}
            for currency, entry in sorted(document.items()):
                if currency == ACCOUNT_DATE or not isinstance(entry, dict):
                    continue
                balances.append(
                    BalanceLine(ex_id, currency, entry.get("total"), entry.get("free"), entry.get("used"))
                )
            for p in all_positions.get(str(ex_id), []):
                positions.append(
                    PositionLine(
                        ex_id,
                        str(p["symbol"]),
                        str(p.get("side")),
                        float(p.get("volume") or 0.0),
                        p.get("price"),
                        p.get("unrealized_pnl"),
                    )
                )
        return balances, positions

    async def _books(self) -> tuple[list[OrderLine], int, list[FillLine], int]:
        is_open = (Order.ex_id.in_(self._ex_ids), Order.status == OrderStatus.OPEN.value)
        mine = Trade.ex_id.in_(self._ex_ids)
        async with translating("read demo books"), self._factory() as session:
            orders_total = int(
                await session.scalar(select(func.count()).select_from(Order).where(*is_open)) or 0
            )
            fills_total = int(await session.scalar(select(func.count()).select_from(Trade).where(mine)) or 0)
            orders = await session.scalars(
                select(Order).where(*is_open).order_by(Order.order_id.desc()).limit(MAX_ORDERS)
            )
            order_lines = [OrderLine(o.ex_id, o.symbol, o.side, o.volume, o.price, o.filled) for o in orders]
            trades = await session.scalars(
                select(Trade).where(mine).order_by(Trade.time_ms.desc()).limit(MAX_FILLS)
            )
            fill_lines = [
                FillLine(
                    t.ex_id, t.symbol, t.side, t.volume, t.price, t.fee, t.fee_currency, t.roi, t.time_ms
                )
                for t in trades
            ]
        return order_lines, orders_total, fill_lines, fills_total
