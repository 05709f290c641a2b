"""What adopting fullon bots' orders costs the ORM sink's order writes (h6).

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/<db> \\
        uv run python bench/bot_orders.py [--orders N] [--batch N] [--bot-rows N]

``OrderRepository.save_orders`` in batches of ``--batch`` order versions, committed per batch:
once with versions that carry a client order id (each may adopt a bot's row: one extra statement
per batch looks for the bot rows they could name, and the adoption ``UPDATE`` runs for those that
found one, ``storage.db.bot_orders``) and, as the baseline in the same run, the same versions
without one (no adoption statement). ``--bot-rows`` rows a bot wrote (no ``ex_order_id``) sit in
the account, none of them named by the versions, so every lookup runs and finds nothing: the
common case. Figures: versions per second of wall time and per CPU second
of this process (the load of other jobs on a shared machine inflates it far less), and the ratio
adoption / baseline. Without ``DATABASE_URL`` a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.settings import Settings
from fullon_account_service.storage.db import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade
from fullon_account_service.storage.db.models import Order
from fullon_account_service.storage.db.repositories.orders import OrderRepository

EX_ID = 990_001


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def versions(n: int, prefix: str, with_client_id: bool) -> list[OrderRecord]:
    base = OrderRecord(
        ex_id=EX_ID, uid=1, exchange="bench", ex_order_id="", symbol="BTC/USDT", side="buy",
        order_type="limit", status="open", volume=1.0, price=100.0, filled=0.0, remaining=1.0,
    )  # fmt: skip
    return [
        dataclasses.replace(
            base,
            ex_order_id=f"{prefix}-{i}",
            client_order_id=f"c-{prefix}-{i}" if with_client_id else None,
            updated_ms=1_700_000_000_000 + i,
        )
        for i in range(n)
    ]


async def run(url: str, orders: int, batch: int, bot_rows: int) -> None:
    await upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        async with factory() as session, session.begin():
            await session.execute(sa.delete(Order).where(Order.ex_id == EX_ID))
            rows = [
                {"ex_id": EX_ID, "uid": 1, "exchange": "bench", "symbol": "BTC/USDT", "order_type": "limit",
                 "side": "buy", "status": "New", "futures": False, "ex_order_id": None, "bot_id": 7}
                for _ in range(bot_rows)
            ]  # fmt: skip
            if rows:
                await session.execute(sa.insert(Order), rows)
        figures = {}
        for name, with_client_id in (("baseline (no client order id)", False), ("adoption", True)):
            todo = versions(orders, name[:4], with_client_id)
            wall, cpu = time.perf_counter(), cpu_s()
            for start in range(0, orders, batch):
                async with factory() as session, session.begin():
                    await OrderRepository(session).save_orders(todo[start : start + batch])
            wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
            figures[name] = (orders / wall, orders / cpu)
            print(f"{name:32} {orders / wall:10,.0f} versions/s wall {orders / cpu:10,.0f} versions/CPU s")
        (bw, bc), (aw, ac) = figures.values()
        print(f"{'ratio adoption / baseline':32} {aw / bw:10.2f} wall            {ac / bc:10.2f} CPU")
        async with factory() as session, session.begin():
            await session.execute(sa.delete(Order).where(Order.ex_id == EX_ID))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--bot-rows", type=int, default=50)
    args = parser.parse_args()
    settings = Settings.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        url = settings.database_url if not settings.is_sqlite else f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}"
        print(f"backend: {url.split(':')[0]}; {args.orders} versions in batches of {args.batch}")
        asyncio.run(run(url, args.orders, args.batch, args.bot_rows))


if __name__ == "__main__":
    main()
