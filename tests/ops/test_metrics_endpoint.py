"""The Prometheus endpoint: hooks called on a sensor show up in a scrape of /metrics over HTTP."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator, Sequence

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry
from truth_events import NOW_MS, envelope

from fullon_account_service.bus.consumer import Consumer, Delivery
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.contract import BalanceSnapshot, CurrencyBalance
from fullon_account_service.metrics import NULL_SENSOR
from fullon_account_service.metrics.prometheus import PrometheusSensor, serve_metrics
from fullon_account_service.metrics.runtime import StreamStatePoller, sink_metrics, start_metrics
from fullon_account_service.settings import Settings

PREFIX = "test:account:"


@pytest.fixture
def served() -> Iterator[tuple[PrometheusSensor, str]]:
    registry = CollectorRegistry()
    sensor = PrometheusSensor(registry)
    server = serve_metrics(0, registry, addr="127.0.0.1")
    try:
        yield sensor, f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return str(response.read().decode())


def test_repeated_hooks_add_up_and_the_depth_follows_every_move(served: tuple[PrometheusSensor, str]) -> None:
    """The per-batch and per-frame hooks keep their labelled children and skip a depth that did
    not move: what a scrape shows is the same as setting every label each call."""
    sensor, url = served
    for kind, exchange, count in (("trade", "kraken", 3), ("order", "kraken", 1), ("trade", "kraken", 2)):
        sensor.on_events_published(kind, exchange, count)
    sensor.on_ws_frame("bybit", 0.001, 4)
    sensor.on_ws_frame("bybit", 0.003, 4)
    for depth in (5, 5, 0, 0, 7):
        sensor.on_buffer_depth("events", depth)
    sensor.on_buffer_depth("dead_letters", 0)
    text = scrape(url)
    assert 'fullon_account_events_published_total{exchange="kraken",kind="trade"} 5.0' in text
    assert 'fullon_account_events_published_total{exchange="kraken",kind="order"} 1.0' in text
    assert 'fullon_account_ws_frames_total{exchange="bybit"} 8.0' in text
    assert 'fullon_account_ws_frame_cpu_seconds_total{exchange="bybit"} 0.016' in text
    assert 'fullon_account_producer_buffer_depth{buffer="events"} 7.0' in text
    assert 'fullon_account_producer_buffer_depth{buffer="dead_letters"} 0.0' in text
    sensor.on_buffer_depth("events", 0)
    assert 'fullon_account_producer_buffer_depth{buffer="events"} 0.0' in scrape(url)


def test_hooks_are_scraped(served: tuple[PrometheusSensor, str]) -> None:
    sensor, url = served
    sensor.on_events_published("trade", "kraken", 3)
    sensor.on_reconnect("bybit")
    sensor.on_rest_call("kraken", "fetch_balance")
    sensor.on_rate_limited("kraken")
    sensor.on_dead_letter("orm")
    sensor.on_sink_batch("orm", 7, 0.05)
    sensor.on_stream_state("test:account:trade", "orm", 12, 4)
    sensor.on_dead_letter_size(2)
    text = scrape(url)
    assert 'fullon_account_events_published_total{exchange="kraken",kind="trade"} 3.0' in text
    assert 'fullon_account_ws_reconnects_total{exchange="bybit"} 1.0' in text
    assert 'fullon_account_rate_limited_total{exchange="kraken"} 1.0' in text
    assert 'fullon_account_sink_events_total{group="orm"} 7.0' in text
    assert 'fullon_account_sink_batch_seconds_count{group="orm"} 1.0' in text
    assert 'fullon_account_stream_lag{group="orm",stream="test:account:trade"} 12.0' in text
    assert 'fullon_account_stream_pending{group="orm",stream="test:account:trade"} 4.0' in text
    assert "fullon_account_dead_letter_size 2.0" in text


def test_no_port_means_no_metrics(tmp_path: object) -> None:
    assert start_metrics(Settings.from_env({"ACCOUNT_DATA_DIR": str(tmp_path)})) is NULL_SENSOR


async def test_stream_state_and_sink_batches_reach_the_scrape(
    served: tuple[PrometheusSensor, str], redis_client: aioredis.Redis
) -> None:
    sensor, url = served
    balance = BalanceSnapshot(balances={"USD": CurrencyBalance(total=1.0)})
    await Publisher(redis_client, prefix=PREFIX).publish(
        [envelope(1, "kraken", balance, NOW_MS + i) for i in range(5)]
    )
    seen: list[int] = []

    async def handler(deliveries: Sequence[Delivery]) -> None:
        seen.append(len(deliveries))

    consumer = Consumer(
        redis_client,
        prefix=PREFIX,
        group="cache",
        consumer="c1",
        kinds=["balance"],
        handler=sink_metrics(sensor, "cache")(handler),
        batch_size=2,
        block_ms=10,
    )
    await consumer.ensure_groups()
    async with asyncio.timeout(60):
        assert await consumer.run_once() == 2
    stop = asyncio.Event()
    poller = StreamStatePoller(redis_client, PREFIX, sensor, partitions=1, interval_s=0.05)
    poller.start(stop)
    async with asyncio.timeout(60):  # until the poller has read the stream once
        while "fullon_account_stream_lag{" not in await asyncio.to_thread(scrape, url):
            await asyncio.sleep(0.05)
    stop.set()
    await poller.aclose()
    text = await asyncio.to_thread(scrape, url)
    assert seen == [2]
    assert 'fullon_account_sink_events_total{group="cache"} 2.0' in text
    assert 'fullon_account_stream_lag{group="cache",stream="test:account:balance"} 3.0' in text
    assert 'fullon_account_stream_pending{group="cache",stream="test:account:balance"} 0.0' in text
    assert "fullon_account_dead_letter_size 0.0" in text
