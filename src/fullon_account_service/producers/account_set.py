"""The accounts one daemon collects, each started with the strategy its capabilities call for.

Per account: the capability detector picks the strategy, the collector watches the WebSocket
kinds, the poller covers the rest (and fills, always). A failure to start one account (missing or
rejected credentials) marks that account ``error`` in ProcessCache with the reason and says so on
the log at once; the others go on. Which accounts are collected is kept in ``CollectedAccounts``
(``collected``), for whoever waits on them. New accounts start one at a time, each after the event
loop absorbed the ones before (``start_pace``), so a thousand starting together do not make the
loop's turns long. Before the first of them, every venue they trade on has its markets loaded:
the factory takes a venue's markets out of the collector's full passes only while no account
client is alive (``clients``), so a venue loaded after the first account started would stay in
every pass.
"""

from __future__ import annotations

import asyncio

from fullon_account_service.errors import AccountServiceError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.collected import CollectedAccounts
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.heartbeat import Heartbeat
from fullon_account_service.producers.live_collector import LiveAccountCollector
from fullon_account_service.producers.rest_poller import RestAccountPoller
from fullon_account_service.producers.start_pace import StartPace

_log = get_logger("daemon")


class AccountSet:
    def __init__(
        self,
        context: ProducerContext,
        heartbeat: Heartbeat,
        collected: CollectedAccounts,
        pace: StartPace | None = None,
        *,
        restart_rekeyed: bool = False,
    ) -> None:
        self._restart_rekeyed = restart_rekeyed
        """Restart an account whose API key changed (``--shard``: no lease moves to do it; under
        leases the key's new lease does, and a restart here would sign with the new key under the
        old key's lease until then)."""
        self._context = context
        self._pace = pace or StartPace()
        self._heartbeat = heartbeat
        self._collected = collected
        self.live_collector = LiveAccountCollector(context=context)
        self.rest_poller = RestAccountPoller(context=context)
        self.accounts: dict[int, AccountRef] = {}

    def is_collecting(self, ref: AccountRef) -> bool:
        return self.live_collector.is_collecting(ref) or self.rest_poller.is_polling(ref)

    async def apply(self, wanted: dict[int, AccountRef]) -> None:
        """Collect exactly ``wanted``: stop the accounts gone or changed (their API key too, when
        ``restart_rekeyed``), start the new ones."""
        if not self.accounts and wanted:
            _log.info(
                "AccountDaemon started successfully",
                exchange_count=len(wanted),
                exchanges=sorted({r.venue for r in wanted.values()}),
            )
        for ex_id in [e for e, ref in self.accounts.items() if wanted.get(e) != ref or self._rekeyed(e)]:
            await self.stop(ex_id)
        new = [ref for ex_id, ref in wanted.items() if ex_id not in self.accounts]
        await self._load_markets({ref.venue for ref in new})
        await self._pace.each(new, self.start)

    def _rekeyed(self, ex_id: int) -> bool:
        return self._restart_rekeyed and self._context.registry.rekeyed(ex_id)

    async def _load_markets(self, venues: set[str]) -> None:
        """Each venue's markets, all venues at once; a venue that fails is left to its accounts'
        sessions, which retry and report it per account."""
        loads = [self._context.factory.load_markets(venue) for venue in sorted(venues)]
        outcomes = await asyncio.gather(*loads, return_exceptions=True)
        for venue, outcome in zip(sorted(venues), outcomes, strict=True):
            if isinstance(outcome, AccountServiceError):
                _log.info("markets not loaded before the accounts start", venue=venue, error=str(outcome))
            elif isinstance(outcome, BaseException):
                raise outcome

    async def start(self, ref: AccountRef) -> None:
        ctx = self._context
        strategy = ctx.detector.strategy(ctx.detector.capabilities(ref))
        _log.info(
            "Applying collection strategy",
            exchange_id=ref.ex_id,
            exchange_name=ref.venue,
            strategy=strategy.name,
        )
        await self._heartbeat.register(ref, strategy.name)
        # listed only now, after the wait on Redis: the supervisor (``restart_dead``) took an
        # account listed before it for one whose poll loop had died, and started that loop itself
        self.accounts[ref.ex_id] = ref
        try:
            await self.live_collector.start_exchange(ref)
            await self.rest_poller.start_exchange(ref)
            self._collected.add(ref.ex_id)
        except AccountServiceError as e:
            ctx.set_status(ref.ex_id, "error", str(e))
            _log.warning("account not collecting", exchange_id=ref.ex_id, error=str(e))
            await self.live_collector.stop_exchange(ref)
            await self.rest_poller.stop_exchange(ref)
        await self._heartbeat.beat(ref.ex_id, force=True)

    async def stop(self, ex_id: int) -> None:
        ref = self.accounts.pop(ex_id)
        self._collected.discard(ex_id)
        await self.live_collector.stop_exchange(ref)
        await self.rest_poller.stop_exchange(ref)
        self._forget(ex_id)
        await self._heartbeat.unregister(ex_id)
        _log.info("stopped account", exchange_id=ex_id)

    async def restart_dead(self) -> None:
        """Restart the loops of accounts whose WebSocket or poll loops died."""
        await self.live_collector.restart_dead()
        for ref in list(self.accounts.values()):
            if not self.rest_poller.is_polling(ref):
                _log.warning("poll loop of an account ended; restarting it", exchange_id=ref.ex_id)
                await self.rest_poller.start_exchange(ref)

    async def close(self) -> None:
        """Stop every loop at once (shutdown); the accounts stay listed until ``clear``."""
        await asyncio.gather(self.live_collector.stop_collection(), self.rest_poller.stop_polling())

    def clear(self) -> None:
        for ex_id in list(self.accounts):
            self._forget(ex_id)
        self.accounts.clear()

    def _forget(self, ex_id: int) -> None:
        self._context.detector.forget(ex_id)
        self._context.status.pop(ex_id, None)
