"""The daemon's place in the producer pool: join it, lease accounts by API key, leave it.

Without a static shard the daemon does not start the accounts discovery offers itself: it offers
them to a ``LeasePool`` (``lease_pool``), which rebalances (in a restarting loop) every
``lease_renew_s``, stamps each new lease's fencing token on the account's cursors and on the
fence book (``CursorStore.fences``) that refuses an old owner's writes, and hands back only the
accounts whose lease this producer holds. Its leases are renewed every ``lease_renew_s`` on a
thread of their own (``lease_renewer``), while the loop turned within ``lease_stall_s``. At
shutdown the renewals end and the leases are released, so the other producers take the keys
over at once rather than after ``lease_ttl_s``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket

from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.context import ProducerContext
from fullon_account_service.producers.lease_pool import Apply, LeasePool
from fullon_account_service.producers.lease_renewer import LeaseRenewer
from fullon_account_service.producers.leases import LeaseStore, lease_id
from fullon_account_service.redis_client import twin
from fullon_account_service.settings import Settings
from fullon_account_service.supervisor import TaskSupervisor, restarting

_log = get_logger("daemon")


def producer_id() -> str:
    """This process' name in the pool: readable (host, pid) and unique across restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class PoolMembership:
    def __init__(self, context: ProducerContext, settings: Settings, apply: Apply) -> None:
        self._context = context
        store = LeaseStore(
            context.redis, prefix=settings.stream_prefix, owner=producer_id(), ttl_s=settings.lease_ttl_s
        )
        _log.info(
            "joining the producer pool",
            producer=store.owner,
            lease_ttl_s=settings.lease_ttl_s,
            lease_renew_s=settings.lease_renew_s,
            lease_stall_s=settings.lease_stall_s,
        )
        self.pool = LeasePool(
            store,
            context.cursors,
            self.lease_of,
            apply,
            ttl_s=settings.lease_ttl_s,
            renew_s=settings.lease_renew_s,
        )
        self.renewer = LeaseRenewer(
            self.pool,
            store,
            lambda: twin(context.redis),
            renew_s=settings.lease_renew_s,
            stall_s=settings.lease_stall_s,
            retry=context.retry.outage,
        )

    def lease_of(self, ref: AccountRef) -> str:
        """The lease an account is collected under: its API key's (an account without credentials,
        or whose secrets file cannot be read now, gets one of its own, and reports its error once
        started)."""
        credentials = self._context.registry.resolver.found(ref.ex_id)
        key = credentials.owner_key if credentials else f"ex_id:{ref.ex_id}"
        return lease_id(ref.venue, key)

    def start(self, tasks: TaskSupervisor, stop: asyncio.Event) -> Apply:
        """Renew and rebalance in the background until ``stop``; the callback discovery offers
        the active accounts to."""
        pool = self.pool
        tasks.spawn(
            restarting(lambda: pool.run(stop), self._context.retry.outage.start(), loop="leases"),
            name="daemon-leases",
        )
        self.renewer.start(tasks, stop)
        return pool.offer

    async def leave(self, drain_s: float) -> None:
        """End the renewals and release every lease (the accounts stopped already); what Redis
        does not confirm within ``drain_s`` expires by itself."""
        await self.renewer.close(drain_s)
        try:
            async with asyncio.timeout(drain_s):
                await self.pool.leave()
        except TimeoutError:
            _log.warning("leases not released at shutdown; they expire by themselves")
