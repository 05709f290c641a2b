"""Which of the active accounts this producer collects: those whose API key it holds a lease on.

Discovery offers every active account; accounts are grouped by API key (``lease_id``: two
accounts on one key sign with one nonce sequence, so one producer must own both). ``renew``
renews every held lease in one round trip, apart from the cycle; the ``LeaseRenewer`` calls it
every ``renew_s`` from a thread of its own (``lease_renewer``), so a held event loop does not
delay it. A lease it could not renew, or not confirm for ``ttl_s`` because Redis did not answer,
is marked lost (its accounts stop signing at once) and the cycle is woken. Every ``renew_s`` (and
at once when discovery, a refused write or a lost lease wakes it) the cycle:

1. stops the accounts of the leases lost or dropped since it last started or stopped accounts
   (their ccxt clients close), and fences the cursors of accounts that joined a held lease;
2. heartbeats in the producer pool and computes its fair share: with ``n`` live producers sorted
   by id and ``k`` keys, the first ``k % n`` producers take ``ceil(k/n)``, the others
   ``floor(k/n)``, so the shares add up to ``k`` and every producer computes the same ones;
3. gives up its surplus (stops those accounts first, then releases their leases, so the next owner
   never signs while it still does) and takes free leases up to its share, each new lease's token
   stamped on the account's cursors (``CursorStore.fence``) before its accounts start. A new token
   is always above the highest one those cursors hold, so an account whose API key was rotated
   (a new lease, its counter fresh) outranks its old key's owner and resumes from its cursors.
   An account that joins a lease already held (its key rotated to one another account uses) has
   its cursors fenced at the next renewal; if they hold a newer token, the lease is given up and
   taken again above it.

Keys are tried in rendezvous order (a hash of producer and key), so producers reach for different
keys and a producer keeps the same keys across restarts when it can. A producer that joins takes
its share as the others shed their surplus; none restarts.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from fullon_account_service.errors import AccountServiceError
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.cursor import CursorStore
from fullon_account_service.producers.leases import Held, LeaseStore

_log = get_logger("producers.lease_pool")

Apply = Callable[[dict[int, AccountRef]], Awaitable[None]]
FENCED_CURSORS = ("cursor", "order_cursor", "ledger_cursor")
TAKE_CONCURRENCY = 32
"""Leases taken at once. A take is ~7 round trips one after another (its accounts' cursor tokens,
the acquire, the fences): one lease after another, a producer taking 1,000 keys, or taking back
100 after a mass loss on a loop whose turns last seconds, waited ~7 turns a key before its first
account started again."""


@dataclass(slots=True)
class _Lease:
    token: int
    valid_until: float
    """Local monotonic time up to which the lease is surely ours: the last confirmed renewal's
    start plus the TTL, less one renewal interval, since it is checked only once per interval."""
    fenced: frozenset[int]
    """The accounts whose cursors carry this lease's token."""
    lost: bool = False
    """A renewal found it lost: its accounts may sign no more; the next cycle forgets it (a renewal
    on the renewal thread only marks it, so the loop's walks over the held leases never see one
    vanish under them)."""


def fair_share(members: list[str], me: str, keys: int) -> int:
    """How many of ``keys`` leases ``me`` should hold among the live ``members``."""
    ranked = sorted(set(members) | {me})
    base, extra = divmod(keys, len(ranked))
    return base + (1 if ranked.index(me) < extra else 0)


def _rank(owner: str, lease: str) -> bytes:
    return hashlib.blake2b(f"{owner}\0{lease}".encode(), digest_size=8).digest()


class LeasePool:
    def __init__(
        self,
        store: LeaseStore,
        cursors: CursorStore,
        key_of: Callable[[AccountRef], str],
        apply: Apply,
        *,
        ttl_s: float,
        renew_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cursors = [cursors.named(name) for name in FENCED_CURSORS]
        self._fences = cursors.fences
        self._key_of = key_of
        self._apply = apply
        self._ttl = ttl_s
        self._renew = renew_s
        self._clock = clock
        self._wanted: dict[str, dict[int, AccountRef]] = {}
        self._held: dict[str, _Lease] = {}
        self._applied: frozenset[str] = frozenset()
        """The leases whose accounts ``apply`` was last given."""
        self._lock = asyncio.Lock()
        self._guard = threading.Lock()
        """Taken by every change of ``_held`` and of the fences (on the loop and on the renewal
        thread), so a renewal answer in flight never extends a lease the loop dropped meanwhile."""
        self._wake = asyncio.Event()
        self._fences.on_stale(lambda ex_id: self._wake.set())

    @property
    def owner(self) -> str:
        return self._store.owner

    @property
    def held(self) -> dict[str, int]:
        """Lease id -> fencing token, of the leases this producer holds now."""
        return {lease: held.token for lease, held in self._held.items() if not held.lost}

    def wake(self) -> None:
        """Run the cycle now (a lease was lost); on the pool's loop only."""
        self._wake.set()

    async def offer(self, wanted: Mapping[int, AccountRef]) -> None:
        """The active accounts (from discovery); collect this producer's share of them."""
        groups: dict[str, dict[int, AccountRef]] = {}
        for ex_id, ref in wanted.items():
            groups.setdefault(self._key_of(ref), {})[ex_id] = ref
        self._wanted = groups
        await self.cycle()

    async def run(self, stop: asyncio.Event) -> None:
        """Renew and rebalance every ``renew_s`` (sooner when woken) until ``stop``."""
        while not stop.is_set():
            try:
                async with asyncio.timeout(self._renew):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not stop.is_set():
                await self.cycle()

    async def cycle(self) -> None:
        async with self._lock:
            retake = await self._settle_held()
            try:
                members = await self._store.join()
            except AccountServiceError as e:
                _log.warning("pool heartbeat failed; keeping current leases", error=str(e))
                members = None
            surplus: list[str] = []
            if members is not None:
                share = fair_share(members, self.owner, len(self._wanted))
                surplus = sorted(self._held, key=lambda lease: _rank(self.owner, lease))
                surplus = surplus[: max(len(self._held) - share, 0)]
                for lease in surplus:
                    self._drop(lease)
            if self.held.keys() != self._applied:  # stop what was dropped before releasing
                await self._apply_owned()
            await self._release(surplus + retake)
            if members is not None:
                await self._take(fair_share(members, self.owner, len(self._wanted)))
            await self._apply_owned()

    async def leave(self) -> None:
        """Release every lease and leave the pool (shutdown, after the accounts stopped), so the
        others take the keys over at once rather than after the TTL."""
        async with self._lock:
            leases = list(self._held)
            for lease in leases:
                self._drop(lease)
            await self._release(leases)
            try:
                await self._store.join(leave=True)
            except AccountServiceError as e:
                _log.warning("could not leave the producer pool; it ages out", error=str(e))

    def _drop(self, lease: str) -> None:
        """Forget a lease: its accounts may sign no more (their cursors stay fenced by its token)."""
        with self._guard:
            del self._held[lease]
            self._expire(lease)

    def _expire(self, lease: str) -> None:
        """No more signing under this lease (under the guard)."""
        for ex_id in self._wanted.get(lease, {}):
            self._fences.expire(ex_id)

    def _confirm(self, lease: str, token: int, started: float) -> None:
        held = _Lease(token, started + self._ttl - self._renew, frozenset(self._wanted.get(lease, {})))
        with self._guard:
            self._held[lease] = held
            self._set_fences(held, held.fenced)

    def _set_fences(self, held: _Lease, ex_ids: Iterable[int]) -> None:
        """These accounts may sign under ``held``'s token until its bound."""
        for ex_id in ex_ids:
            self._fences.set(ex_id, held.token, held.valid_until)

    async def _apply_owned(self) -> None:
        self._applied = frozenset(self.held)
        owned = {ex_id: ref for lease in self._applied for ex_id, ref in self._wanted.get(lease, {}).items()}
        await self._apply(owned)

    async def renew(self, store: LeaseStore | None = None) -> bool:
        """Renew every held lease in one round trip, through ``store`` (the renewal thread's own
        client) or the pool's; whether one was lost. A lost lease's accounts may sign no more from
        here on; the caller wakes the cycle (``wake``), which stops them. Takes no lock but the
        guard, and that only around the bookkeeping: a cycle starting a hundred accounts does not
        hold renewals up. An answer about a lease dropped (or dropped and taken again) while it was
        on its way is ignored: each tenure is its own ``_Lease``."""
        with self._guard:
            held = {lease: was for lease, was in self._held.items() if not was.lost}
        if not held:
            return False
        started = self._clock()
        error = None
        try:
            answers = await (store or self._store).renew_all(list(held))
        except AccountServiceError as e:
            answers, error = {}, str(e)
        with self._guard:
            unconfirmed, lost = self._settle_renewal(held, answers, started)
        if unconfirmed:
            _log.warning(
                "lease renewal failed; retrying",
                leases=len(unconfirmed),
                error=error or "no answer for these leases",
            )
        for lease in lost:
            _log.warning("lease lost; stopping its accounts", lease=lease)
        return bool(lost)

    def _settle_renewal(
        self, held: dict[str, _Lease], answers: Mapping[str, Held | None], started: float
    ) -> tuple[list[str], list[str]]:
        """Apply a renewal's answers (under the guard): the leases left unconfirmed but still
        within their bound, and those lost."""
        unconfirmed: list[str] = []
        lost: list[str] = []
        for lease, was in held.items():
            if self._held.get(lease) is not was or was.lost:
                continue
            if lease not in answers and started < was.valid_until:
                unconfirmed.append(lease)
                continue
            answer = answers.get(lease)
            if answer is None or answer.token != was.token:
                was.lost = True
                self._expire(lease)
                lost.append(lease)
            else:
                self._extend(lease, was, started)
        return unconfirmed, lost

    def _extend(self, lease: str, held: _Lease, started: float) -> None:
        """A confirmed renewal: the accounts fenced under this tenure may sign until the new bound
        (one that joined the lease since waits for the cycle to fence its cursors). In place, so
        the ``_Lease`` stays the tenure's identity; never lowered by a renewal that started earlier."""
        held.valid_until = max(held.valid_until, started + self._ttl - self._renew)
        self._set_fences(held, held.fenced & self._wanted.get(lease, {}).keys())

    async def _settle_held(self) -> list[str]:
        """Drop the held leases no longer wanted, fence the cursors of accounts that joined a held
        lease; the leases to release once their accounts stopped, to take them again with a newer
        token (a joined account's cursors hold a newer one, or could not be fenced)."""
        for lease in [lease for lease, held in self._held.items() if held.lost]:
            self._drop(lease)
        for lease in [lease for lease in self._held if lease not in self._wanted]:
            self._drop(lease)
            await self._release([lease])
        retake: list[str] = []
        for lease in list(self._held):
            joined = self._joined(lease)
            if not joined:
                continue
            held = self._held[lease]
            fenced = await self._fence(lease, held.token, joined)
            if self._held.get(lease) is not held or held.lost:
                continue
            if not fenced:
                self._drop(lease)
                retake.append(lease)
                continue
            with self._guard:
                if not held.lost:
                    held.fenced = frozenset(self._wanted[lease])
                    self._set_fences(held, held.fenced)
        return retake

    def _joined(self, lease: str) -> set[int]:
        """Accounts wanted under a held lease whose cursors do not carry its token yet."""
        return self._wanted[lease].keys() - self._held[lease].fenced

    async def _fence(self, lease: str, token: int, ex_ids: Iterable[int]) -> bool:
        """Stamp ``token`` on these accounts' cursors; False when one holds a newer token, or
        Redis did not answer (the lease is then given up and taken again above it)."""
        try:
            for ex_id in ex_ids:
                for cursors in self._cursors:
                    await cursors.fence(ex_id, token)
        except AccountServiceError as e:
            _log.warning("cursors of a lease's accounts not fenced; giving it up", lease=lease, error=str(e))
            return False
        return True

    async def _highest_token(self, lease: str) -> int:
        """The highest token on the cursors of a lease's accounts: a new tenure must outrank it."""
        tokens = [await cursors.token(ex_id) for ex_id in self._wanted[lease] for cursors in self._cursors]
        return max(tokens, default=0)

    async def _release(self, leases: list[str]) -> None:
        for lease in leases:
            try:
                await self._store.release(lease)
            except AccountServiceError as e:
                _log.warning("lease release failed; it expires by itself", lease=lease, error=str(e))

    async def _take(self, share: int) -> None:
        """Take free leases up to ``share``, ``TAKE_CONCURRENCY`` at a time, never more than the
        share still missing: only a cycle adds leases, and it holds the lock."""
        free = sorted(
            (lease for lease in self._wanted if lease not in self._held),
            key=lambda lease: _rank(self.owner, lease),
            reverse=True,
        )
        while free and len(self._held) < share:
            batch = free[: min(share - len(self._held), TAKE_CONCURRENCY)]
            del free[: len(batch)]
            await asyncio.gather(*(self._take_one(lease) for lease in batch))

    async def _take_one(self, lease: str) -> None:
        started = self._clock()
        try:
            held = await self._store.acquire(lease, above=await self._highest_token(lease))
        except AccountServiceError as e:
            _log.warning("lease not taken", lease=lease, error=str(e))
            return
        if held is None:
            return
        if not await self._fence(lease, held.token, self._wanted[lease]):
            await self._release([lease])
            return
        self._confirm(lease, held.token, started)
        _log.info("lease taken", lease=lease, token=held.token, accounts=sorted(self._wanted[lease]))
