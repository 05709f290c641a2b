"""One account's runtime, shared by its WebSocket collector and its REST poller.

The session owns the account's single ccxt client and its normaliser. The client signs every
request it sends under the lock of the account's API key (``ws_guard``: ccxt's ``fetch2`` is the
one path of REST calls, ``call`` included, and of the WebSocket token Kraken's ``watch_*`` fetch
inside ccxt): two tasks never sign requests with one key at the same time, so venues that check
nonces (Kraken) see them strictly increase. A WebSocket frame the client could not read is
dead-lettered through the session (``on_bad_frame``) and the account reconciled over REST.
Sessions are reference-counted by the registry: the collector and the poller each acquire one
and the client is closed when the last of them lets go.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from fullon_account_service.errors import (
    AccountServiceError,
    ConfigError,
    CredentialsError,
    RateLimited,
    should_retry,
)
from fullon_account_service.logs import get_logger
from fullon_account_service.metrics.sensor import NULL_SENSOR, Sensor
from fullon_account_service.producers import ws_guard, ws_ledger
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.bad_input import frame_dead_letter, preview
from fullon_account_service.producers.ccxt_errors import translate
from fullon_account_service.producers.clients import ClientFactory
from fullon_account_service.producers.credentials import CredentialResolver, Credentials
from fullon_account_service.producers.cursor import FenceBook
from fullon_account_service.producers.normalise import DeadPayload, Normaliser
from fullon_account_service.producers.published_ids import PublishedIds
from fullon_account_service.retry import NO_RETRY, Attempts, RetryPolicy

DeadLetterSink = Callable[[DeadPayload], None]
"""Takes a dead letter without waiting (``Outbox.dead_nowait``)."""

_log = get_logger("producers.session")


@dataclass(slots=True, weakref_slot=True)
class AccountSession:
    ref: AccountRef
    client: Any
    normaliser: Normaliser
    key_lock: asyncio.Lock
    sensor: Sensor = NULL_SENSOR
    retry: RetryPolicy = NO_RETRY
    """Tries of a call that failed on the network (``RetryPolicies.call``: ``ACCOUNT_MAX_RETRIES``
    extra tries); rate limits are not retried here, the poller backs off from them as a whole."""
    error: str | None = None
    """Why the account is not collecting (credentials rejected, ...), else ``None``."""
    wake_poller: asyncio.Event = field(default_factory=asyncio.Event)
    """Set by the collector when REST should look now (a reconnect, a stream down, a read asked for)."""
    fast_poll: set[str] = field(default_factory=set)
    """Streams currently down: while non-empty the poller runs at its fast interval and reads them.
    A stream that is only quiet is not here (``ws_watchdog``)."""
    last_ws_at: dict[str, float] = field(default_factory=dict)
    rest_once: set[str] = field(default_factory=set)
    """Kinds the poller should read on its next cycle only (e.g. open orders after a new fill)."""
    reconcile_requested: bool = False
    """Set after a WebSocket reconnect: the poller's next cycle reads everything."""
    changed_since_audit: bool = False
    """A stream reported fills or orders since the last audit: the next one comes sooner."""
    last_audit_at: float | None = None
    """When the last audit or reconciliation completed, on the poller's clock (monotonic)."""
    published_fills: PublishedIds = field(default_factory=PublishedIds)
    """Fills already on the bus, so re-reads do not send them again; bounded in count and
    forgotten once the fill cursor is past them."""
    published_ledger: PublishedIds = field(default_factory=PublishedIds)
    """Ledger entries already on the bus (REST re-reads and the venue's stream), bounded alike."""
    ledger_denied: str | None = None
    """Why the venue refused the last ledger read (a key without the ledger permission), else
    ``None``; while set, only reconciliations read the ledger."""
    refs: int = 0
    dead_letter: DeadLetterSink | None = None
    bad_frames: int = 0
    credentials: Credentials | None = None
    """What the client signs with (``SessionRegistry.renew_credentials`` may replace them)."""

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One REST call (each request signed under the key lock); ccxt errors become ours."""
        fn: Callable[..., Awaitable[Any]] = getattr(self.client, method)
        attempts = self.retry.start()
        while True:
            self.sensor.on_rest_call(self.ref.venue, method)
            try:
                return await fn(*args, **kwargs)
            except AccountServiceError:
                raise
            except Exception as e:
                error = translate(e, f"{self.ref.venue} {method}", self.client)
                retryable = should_retry(error) and not isinstance(error, RateLimited)
                if not retryable or attempts.exhausted:
                    raise error from e
            await asyncio.sleep(attempts.next())

    def on_bad_frame(self, url: str, error: BaseException, data: Any) -> None:
        """A frame the client could not read: dead-letter it, reconcile what it may have said."""
        self.bad_frames += 1
        letter = frame_dead_letter(self.ref, url, error, data)
        _log.warning(
            "bad websocket frame dead-lettered; the stream goes on",
            ex_id=self.ref.ex_id,
            venue=self.ref.venue,
            reason=letter.reason,
            payload=preview(letter.payload),
        )
        self.sensor.on_bad_frame(self.ref.venue)
        if self.dead_letter is not None:
            self.dead_letter(letter)
        self.request_reconcile()

    def request_poll(self, reason: str) -> None:
        self.fast_poll.add(reason)
        self.wake_poller.set()

    def request_rest_once(self, kind: str) -> None:
        """Read ``kind`` over REST on the next cycle, when a stream left something out: a fill
        changed an order the order stream may not report (Kraken sends partial fills on the trade
        channel only), or a balance arrived without free/used (Kraken's totals-only balances)."""
        self.rest_once.add(kind)
        self.wake_poller.set()

    def request_reconcile(self) -> None:
        self.reconcile_requested = True
        self.wake_poller.set()

    def stream_spoke(self, kind: str) -> None:
        self.last_ws_at[kind] = time.monotonic()
        self.fast_poll.discard(kind)


class SessionRegistry:
    """Creates sessions on first use, shares them, closes the client after the last release."""

    def __init__(
        self,
        factory: ClientFactory,
        resolver: CredentialResolver,
        sensor: Sensor = NULL_SENSOR,
        *,
        retry: RetryPolicy = NO_RETRY,
        dead_letter: DeadLetterSink | None = None,
        fences: FenceBook | None = None,
    ) -> None:
        self._dead_letter = dead_letter
        self._fences = fences or FenceBook()
        self._factory = factory
        self._resolver = resolver
        self._sensor = sensor
        self._retry = retry
        self._sessions: dict[int, AccountSession] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._creating: dict[int, asyncio.Lock] = {}

    async def acquire_with_retry(
        self, ref: AccountRef, backoff: Attempts, on_error: Callable[[str, str], None]
    ) -> AccountSession:
        """``acquire`` until it works: a venue outage or a rate limit at start-up only delays the
        account; missing or rejected credentials mark it in error (``on_error``) and retry slowly."""
        while True:
            try:
                session = await self.acquire(ref)
            except (CredentialsError, ConfigError) as e:
                on_error("error", str(e))
                await asyncio.sleep(backoff.next(at_least_s=backoff.cap_s))
            except RateLimited as e:
                self._sensor.on_rate_limited(ref.venue)
                on_error("starting", f"rate limited: {e}")
                await asyncio.sleep(backoff.next(at_least_s=e.retry_after_s or 0.0))
            except AccountServiceError as e:
                on_error("starting", f"cannot start yet: {e}")
                await asyncio.sleep(backoff.next())
            else:
                backoff.reset()
                return session

    @property
    def resolver(self) -> CredentialResolver:
        return self._resolver

    def get(self, ex_id: int) -> AccountSession | None:
        return self._sessions.get(ex_id)

    def sessions(self) -> list[AccountSession]:
        return list(self._sessions.values())

    async def acquire(self, ref: AccountRef) -> AccountSession:
        """The account's session (creating its client and markets once); raises our errors."""
        lock = self._creating.setdefault(ref.ex_id, asyncio.Lock())
        async with lock:
            session = self._sessions.get(ref.ex_id)
            if session is None:
                session = await self._create(ref)
                self._sessions[ref.ex_id] = session
            session.refs += 1
            return session

    async def _create(self, ref: AccountRef) -> AccountSession:
        credentials = self._resolver.resolve(ref.ex_id)
        markets = await self._factory.load_markets(ref.venue)
        client = self._factory.create(ref.venue, credentials)
        try:
            client.set_markets_from_exchange(markets)
        except BaseException:
            await client.close()
            raise
        address = getattr(client, "walletAddress", None) or None
        normaliser = Normaliser(ref, client.markets, client.safe_currency_code, address=address)
        key_lock = self._key_locks.setdefault(f"{ref.venue}:{credentials.owner_key}", asyncio.Lock())
        session = AccountSession(
            ref,
            client,
            normaliser,
            key_lock,
            self._sensor,
            retry=self._retry,
            dead_letter=self._dead_letter,
            credentials=credentials,
        )
        ws_guard.attach(
            client,
            lock=key_lock,
            on_bad_frame=session.on_bad_frame,
            ledger_tap=ws_ledger.tap_for(client, ref.venue),
            may_sign=lambda: self._fences.may_sign(ref.ex_id),
            on_frame=partial(self._sensor.on_ws_frame, ref.venue),
        )
        return session

    def renew_credentials(self, session: AccountSession) -> bool:
        """After the venue refused the account's credentials: resolve them again (the secrets
        file may have been corrected since) and, when the secret or passphrase changed under the
        same key, set them on the live client, so its next request signs with them; ``True``
        then. A new key is left alone: it is another request owner, with its own key lock and,
        under leases, its own lease, whose move restarts the account with a new client."""
        fresh = self._resolver.found(session.ref.ex_id)
        held = session.credentials
        if fresh is None or held is None or fresh == held or fresh.owner_key != held.owner_key:
            return False
        config: dict[str, str | None] = {"password": None}
        config.update(fresh.ccxt_config(session.ref.venue))
        for name, value in config.items():
            setattr(session.client, name, value)
        session.credentials = fresh
        return True

    def rekeyed(self, ex_id: int) -> bool:
        """Whether the account's API key is no longer the one its client was made with (rotated in
        the secrets file). Its client, key lock and nonces belong to the old key, so the account
        must start again: under leases the key's new lease does that, with ``--shard`` rediscovery
        asks here (``AccountSet``)."""
        session = self._sessions.get(ex_id)
        if session is None or session.credentials is None:
            return False
        fresh = self._resolver.found(ex_id)
        return fresh is not None and fresh.owner_key != session.credentials.owner_key

    async def release(self, ex_id: int) -> None:
        session = self._sessions.get(ex_id)
        if session is None:
            return
        session.refs -= 1
        if session.refs <= 0:
            del self._sessions[ex_id]
            self._creating.pop(ex_id, None)
            await session.client.close()

    async def close(self) -> None:
        sessions, self._sessions = self._sessions, {}
        await asyncio.gather(*(s.client.close() for s in sessions.values()), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._sessions)
