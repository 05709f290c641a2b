"""Metrics in a running process: the sensor, its HTTP endpoint and the stream-state poller.

``start_metrics(settings)`` gives a producer or sink process its sensor: a ``PrometheusSensor`` on
the default registry served on ``ACCOUNT_METRICS_PORT``, or ``NULL_SENSOR`` when no port is set.
The default registry admits each metric once, so the sensor is made once per process and every
later call returns it (the demo runs producers and both sinks in one process).

Lag, pending and dead-letter size are not events anyone emits: ``StreamStatePoller`` reads them
from Redis every ``interval_s`` (the same reading ``health`` does) and sets the gauges, so a
scraper sees a stalled group without running the health command.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import redis.asyncio as aioredis
from prometheus_client import REGISTRY, CollectorRegistry

from fullon_account_service.bus.consumer import Delivery, Handler
from fullon_account_service.bus.redis_errors import REDIS_ERRORS
from fullon_account_service.bus.streams import dead_letter_key
from fullon_account_service.errors import AccountServiceError
from fullon_account_service.health import read_groups
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.prometheus import PrometheusSensor, serve_metrics
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.settings import Settings
from fullon_account_service.supervisor import TaskSupervisor

_log = get_logger("metrics")
_process_sensor: PrometheusSensor | None = None


def start_metrics(settings: Settings, *, addr: str = "0.0.0.0") -> Sensor:
    """The process's sensor; serves ``/metrics`` on ``settings.metrics_port`` the first time."""
    global _process_sensor
    if settings.metrics_port is None:
        return NULL_SENSOR
    if _process_sensor is None:
        registry: CollectorRegistry = REGISTRY
        sensor = PrometheusSensor(registry)
        serve_metrics(settings.metrics_port, registry, addr=addr)
        _log.info("metrics endpoint started", port=settings.metrics_port)
        _process_sensor = sensor
    return _process_sensor


async def record_stream_state(redis: aioredis.Redis, prefix: str, sensor: Sensor, partitions: int) -> None:
    """One reading of every consumer group (per partition) and of the dead-letter stream."""
    for group in await read_groups(redis, prefix, partitions):
        sensor.on_stream_state(group.stream, group.group, group.lag, group.pending)
    sensor.on_dead_letter_size(int(await redis.xlen(dead_letter_key(prefix))))


class PeriodicReading:
    """Takes a reading (``read``) every ``interval_s`` in one owned background task."""

    name = "metrics-reading"
    what = "take a metrics reading"

    def __init__(self, *, interval_s: float) -> None:
        self._interval_s = interval_s
        self._tasks = TaskSupervisor("metrics")

    async def read(self) -> None:
        raise NotImplementedError

    def start(self, stop: asyncio.Event) -> asyncio.Task[None]:
        return self._tasks.spawn(self.run(stop), name=self.name)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: an outage of what it reads costs readings, never the process."""
        while not stop.is_set():
            try:
                await self.read()
            except (*REDIS_ERRORS, OSError, AccountServiceError) as e:
                _log.warning(f"could not {self.what}", error=repr(e))
            try:
                async with asyncio.timeout(self._interval_s):
                    await stop.wait()
            except TimeoutError:
                pass

    async def aclose(self) -> None:
        await self._tasks.cancel_all()


class StreamStatePoller(PeriodicReading):
    """Reads stream state into a sensor periodically."""

    name = "metrics-stream-state"
    what = "read stream state"

    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        sensor: Sensor,
        *,
        partitions: int,
        interval_s: float = 15.0,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._redis = redis
        self._prefix = prefix
        self._partitions = partitions
        self._sensor = sensor

    async def read(self) -> None:
        await record_stream_state(self._redis, self._prefix, self._sensor, self._partitions)


def sink_metrics(
    sensor: Sensor, group: str, *, clock: Callable[[], float] = time.perf_counter
) -> Callable[[Handler], Handler]:
    """A ``run_sink(wrap=...)`` decorator: each batch the handler stored counts, with its latency."""

    def wrap(handler: Handler) -> Handler:
        async def timed(deliveries: Sequence[Delivery]) -> None:
            started = clock()
            await handler(deliveries)
            sensor.on_sink_batch(group, len(deliveries), clock() - started)

        return timed

    return wrap
