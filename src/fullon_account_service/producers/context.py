"""Everything the collector, the poller and the daemon share, built once and injected.

``ProducerContext.from_settings`` is the one place producers build Redis clients, ccxt factories,
retry policies and the outbox; tests build a context around their own Redis and simulator
overrides. ``status`` is the board where loops post each account's state for the daemon's
ProcessCache heartbeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.producers.capabilities import CapabilityDetector
from fullon_account_service.producers.clients import ClientFactory, load_overrides
from fullon_account_service.producers.clock_skew import ClockSkew
from fullon_account_service.producers.credentials import CredentialResolver
from fullon_account_service.producers.cursor import CursorStore, FenceBook
from fullon_account_service.producers.open_orders import OpenOrderBook
from fullon_account_service.producers.outbox import Outbox
from fullon_account_service.producers.pending_ledger import PendingLedger
from fullon_account_service.producers.published_state import PublishedStates
from fullon_account_service.producers.reconcile import Reconciler
from fullon_account_service.producers.session import SessionRegistry
from fullon_account_service.redis_client import make_redis
from fullon_account_service.retry import RetryPolicies
from fullon_account_service.settings import Settings

_log = get_logger("producers.context")


@dataclass(frozen=True, slots=True)
class Timing:
    """Intervals of the loops, in seconds; tests shrink them."""

    poll_interval_s: float = 60.0
    fast_poll_interval_s: float = 5.0
    clock_skew_ms: int = 5_000
    """The venue clock skew assumed before (and unless) a larger one is measured; history
    re-reads reach back twice the skew (``clock_skew``)."""
    audit_interval_s: float = 300.0
    """Longest time between two audits of an account whose streams are quiet."""
    ws_silence_s: float = 15.0
    """A socket that read no frame at all (data or pong) for this long is reopened; never less
    than 1.5x the venue's ping interval, so an idle account's socket is not cut."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Timing:
        poll = settings.poll_interval_s
        return cls(
            poll_interval_s=poll,
            fast_poll_interval_s=min(poll, max(poll / 10, 1.0)),
            clock_skew_ms=settings.clock_skew_ms,
            audit_interval_s=max(settings.audit_interval_s, poll),
            ws_silence_s=settings.ws_silence_s,
        )


@dataclass(slots=True)
class ProducerContext:
    settings: Settings
    redis: aioredis.Redis
    factory: ClientFactory
    registry: SessionRegistry
    detector: CapabilityDetector
    outbox: Outbox
    reconciler: Reconciler
    cursors: CursorStore
    timing: Timing
    retry: RetryPolicies
    sensor: Sensor = NULL_SENSOR
    status: dict[int, tuple[str, str]] = field(default_factory=dict)
    owns_redis: bool = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        redis: aioredis.Redis | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        timing: Timing | None = None,
        retry: RetryPolicies | None = None,
        sensor: Sensor = NULL_SENSOR,
        factory: ClientFactory | None = None,
    ) -> ProducerContext:
        settings = settings or Settings.from_env(env)
        owns = redis is None
        client = redis if redis is not None else make_redis(settings)
        factory = factory or ClientFactory(overrides if overrides is not None else load_overrides(env))
        resolver = CredentialResolver(env, settings.secrets_file)
        timing = timing or Timing.from_settings(settings)
        retry = retry or RetryPolicies.from_settings(settings)
        prefix = settings.stream_prefix
        outbox = Outbox(
            Publisher(client, prefix=prefix, partitions=settings.stream_partitions),
            client,
            prefix=prefix,
            sensor=sensor,
            batch_size=settings.batch_size,
            max_pending=settings.outbox_max_events,
            retry=retry.publish,
            states=PublishedStates(),
        )
        fences = FenceBook()
        cursors = CursorStore(client, prefix=prefix, fences=fences)
        return cls(
            settings=settings,
            redis=client,
            factory=factory,
            registry=SessionRegistry(
                factory,
                resolver,
                sensor,
                retry=retry.call,
                dead_letter=outbox.dead_nowait,
                fences=fences,
            ),
            detector=CapabilityDetector(),
            outbox=outbox,
            reconciler=Reconciler(
                outbox,
                cursors,
                OpenOrderBook(client, prefix=prefix),
                skew=ClockSkew(timing.clock_skew_ms),
                pending_ledger=PendingLedger(client, prefix=prefix),
            ),
            cursors=cursors,
            timing=timing,
            retry=retry,
            sensor=sensor,
            owns_redis=owns,
        )

    def set_status(self, ex_id: int, status: str, message: str) -> None:
        """Post an account's state; an account entering or leaving ``error`` is logged at once
        (ProcessCache hears of it on the next heartbeat)."""
        previous = self.status.get(ex_id)
        self.status[ex_id] = (status, message)
        if previous == (status, message):
            return
        if status == "error":
            _log.error("account in error", ex_id=ex_id, reason=message)
        elif previous is not None and previous[0] == "error":
            _log.info("account recovered", ex_id=ex_id, status=status, message=message)

    async def close(self, drain_s: float = 5.0) -> None:
        await self.outbox.close(drain_s)
        await self.registry.close()
        await self.factory.close()
        if self.owns_redis:
            await self.redis.aclose()
