"""Leases and fencing on their own: tokens grow with every change of owner, a stale token's write is
refused, the pool splits keys fairly and never lets two producers hold one key. ``.ci/run`` runs
them on a Redis Cluster too (``conftest``): every script touches one slot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st
from renewal_harness import renewer_of, renewing

from fullon_account_service.errors import ConfigError, StaleLeaseError
from fullon_account_service.producers import ws_guard
from fullon_account_service.producers.account import AccountRef
from fullon_account_service.producers.clients import ClientFactory, strip_credentials
from fullon_account_service.producers.credentials import Credentials
from fullon_account_service.producers.cursor import UNFENCED, CursorStore, FenceBook, cursor_key
from fullon_account_service.producers.lease_pool import TAKE_CONCURRENCY, LeasePool, fair_share
from fullon_account_service.producers.leases import Held, LeaseStore, lease_key
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage import ProcessCache

DEADLINE_S = 30.0


def store(redis: aioredis.Redis, settings: Settings, owner: str, ttl_s: float = 30.0) -> LeaseStore:
    return LeaseStore(redis, prefix=settings.stream_prefix, owner=owner, ttl_s=ttl_s)


async def test_takeover_increments_the_token(redis_client: aioredis.Redis, settings: Settings) -> None:
    a, b = store(redis_client, settings, "a"), store(redis_client, settings, "b")
    first = await a.acquire("k")
    assert first is not None and first.token == 1
    assert await b.acquire("k") is None
    assert await b.renew("k") is None
    renewed = await a.renew("k")
    again = await a.acquire("k")
    assert renewed is not None and again is not None and renewed.token == again.token == 1
    await b.release("k")
    assert await a.holder("k") == "a"
    await a.release("k")
    taken = await b.acquire("k")
    assert taken is not None and taken.token == 2
    assert await a.renew("k") is None


async def test_a_dead_owner_loses_its_lease_within_the_ttl(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    a, b = store(redis_client, settings, "a", ttl_s=0.3), store(redis_client, settings, "b")
    assert await a.acquire("k") is not None
    assert await redis_client.pttl(lease_key(settings.stream_prefix, "k")) <= 300
    async with asyncio.timeout(DEADLINE_S):
        while (taken := await b.acquire("k")) is None:
            await asyncio.sleep(0.05)
    assert taken.token == 2


async def test_a_stale_token_moves_the_cursor_neither_way(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    old_book, new_book = FenceBook(), FenceBook()
    old = CursorStore(redis_client, prefix=settings.stream_prefix, fences=old_book)
    new = CursorStore(redis_client, prefix=settings.stream_prefix, fences=new_book)
    old_book.set(1, 1)
    await old.fence(1, 1)
    assert await old.advance(1, 100) == 100
    new_book.set(1, 2)
    await new.fence(1, 2)
    for time_ms in (200, 50):
        with pytest.raises(StaleLeaseError, match="another producer owns this account"):
            await old.advance(1, time_ms)
    with pytest.raises(StaleLeaseError):
        await old.fence(1, 1)
    assert await new.get(1) == 100
    assert await new.advance(1, 150) == 150
    assert await redis_client.get(cursor_key(settings.stream_prefix, 1)) == b"150@2"


async def test_a_cursor_written_before_leases_is_fenced_in_place(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    await redis_client.set(cursor_key(settings.stream_prefix, 1), "100")
    book = FenceBook()
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix, fences=book)
    await cursors.fence(1, 3)
    book.set(1, 3)
    assert await cursors.get(1) == 100
    assert await cursors.advance(1, 90) == 100
    assert await redis_client.get(cursor_key(settings.stream_prefix, 1)) == b"100@3"
    await cursors.fence(2, 1)
    assert await cursors.get(2) is None


async def test_a_refused_write_is_reported_to_the_book(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    book = FenceBook()
    refused: list[int] = []
    book.on_stale(refused.append)
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix, fences=book)
    await cursors.fence(7, 5)
    book.set(7, 4)
    with pytest.raises(StaleLeaseError):
        await cursors.advance(7, 10)
    assert refused == [7]


@given(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=9, unique=True), st.integers(0, 200))
def test_fair_shares_add_up_and_differ_by_one_at_most(members: list[str], keys: int) -> None:
    shares = [fair_share(members, m, keys) for m in members]
    assert sum(shares) == keys
    assert max(shares) - min(shares) <= 1


def test_renewal_must_be_under_half_the_ttl() -> None:
    with pytest.raises(ConfigError, match="ACCOUNT_LEASE_RENEW_S"):
        Settings.from_env({"ACCOUNT_LEASE_TTL_S": "4", "ACCOUNT_LEASE_RENEW_S": "2"})
    settings = Settings.from_env({"ACCOUNT_LEASE_TTL_S": "3"})
    assert settings.lease_renew_s == 1.0


class Producer:
    """A pool whose ``apply`` records what it would collect; ``cursors`` write as its accounts would."""

    def __init__(
        self,
        redis: aioredis.Redis,
        settings: Settings,
        owner: str,
        key_of: Callable[[AccountRef], str] = lambda ref: f"key{ref.ex_id // 2}",
    ) -> None:
        self.owned: dict[int, AccountRef] = {}
        self.cursors = CursorStore(redis, prefix=settings.stream_prefix)
        self.pool = LeasePool(
            store(redis, settings, owner),
            self.cursors,
            key_of,
            self._apply,
            ttl_s=30.0,
            renew_s=1.0,
        )

    async def _apply(self, owned: dict[int, AccountRef]) -> None:
        self.owned = owned


async def test_pool_splits_keys_and_takes_over_from_a_leaver(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    accounts = {ex_id: AccountRef(ex_id, 1, "kraken") for ex_id in range(12)}
    producers = [Producer(redis_client, settings, f"p{i}") for i in range(3)]

    def check_exclusive() -> None:
        seen = [ex_id for p in producers for ex_id in p.owned]
        assert len(seen) == len(set(seen)), "two producers collect one account"
        for p in producers:
            assert all(f"key{e // 2}" in p.pool.held for e in p.owned), "an account without its lease"

    for p in producers:
        await p.pool.offer(accounts)
        check_exclusive()
    for _ in range(3):
        for p in producers:
            await p.pool.cycle()
            check_exclusive()
    assert sorted(len(p.pool.held) for p in producers) == [2, 2, 2]
    assert sorted(e for p in producers for e in p.owned) == list(range(12))
    await producers[0].pool.leave()
    producers[0].owned = {}
    for _ in range(2):
        for p in producers[1:]:
            await p.pool.cycle()
            check_exclusive()
    assert sorted(len(p.pool.held) for p in producers[1:]) == [3, 3]
    tokens = {lease: t for p in producers[1:] for lease, t in p.pool.held.items()}
    assert max(tokens.values()) >= 2


async def test_a_rotated_key_resumes_from_the_cursors_and_still_fences_the_old_owner(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """The new key is a new lease with a fresh counter: its first token must still outrank the
    old key's, or the cursors refuse the new owner and the account reads its history again."""
    keys = {1: "old-key"}
    account = {1: AccountRef(1, 1, "kraken")}
    old = Producer(redis_client, settings, "b-old", key_of=lambda ref: keys[ref.ex_id])
    for _ in range(2):
        await old.pool.offer(account)
        await old.pool.leave()
    await old.pool.offer(account)
    assert old.pool.held == {"old-key": 3} and old.owned == account
    assert await old.cursors.advance(1, 100) == 100
    assert await old.cursors.named("order_cursor").advance(1, 90) == 90
    assert await old.cursors.named("ledger_cursor").advance(1, 80) == 80

    keys[1] = "new-key"
    new = Producer(redis_client, settings, "a-new", key_of=lambda ref: keys[ref.ex_id])
    await new.pool.offer(account)
    assert new.owned == account, "the rotated account was not taken over"
    assert new.pool.held == {"new-key": 4}
    assert await new.cursors.get(1) == 100 and await new.cursors.named("order_cursor").get(1) == 90
    assert await new.cursors.named("ledger_cursor").get(1) == 80
    assert await new.cursors.advance(1, 150) == 150
    for name in ("cursor", "order_cursor", "ledger_cursor"):
        with pytest.raises(StaleLeaseError):
            await old.cursors.named(name).advance(1, 200)
    assert await new.cursors.get(1) == 150


async def test_a_key_rotated_onto_a_held_lease_takes_it_again_above_the_cursors(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """Account 1's key becomes the one account 2 already uses, whose lease this producer holds with
    a lower token than account 1's cursors: the lease is taken again above them."""
    await redis_client.set(cursor_key(settings.stream_prefix, 1), "100@5")
    keys = {1: "old-key", 2: "shared-key"}
    accounts = {ex_id: AccountRef(ex_id, 1, "kraken") for ex_id in keys}
    producer = Producer(redis_client, settings, "p", key_of=lambda ref: keys[ref.ex_id])
    await producer.pool.offer(accounts)
    assert producer.pool.held == {"old-key": 6, "shared-key": 1}

    keys[1] = "shared-key"
    await producer.pool.offer(accounts)
    assert producer.owned == accounts
    assert producer.pool.held == {"shared-key": 7}
    assert await producer.cursors.advance(1, 150) == 150
    old_book = FenceBook()
    old_book.set(1, 6)
    with pytest.raises(StaleLeaseError):
        await CursorStore(redis_client, prefix=settings.stream_prefix, fences=old_book).advance(1, 200)


async def test_an_old_owner_cannot_repoint_the_account_component(redis_client: aioredis.Redis) -> None:
    clock = iter(float(t) for t in range(1_700_000_000, 1_700_000_100))
    cache = ProcessCache(redis_client, clock=lambda: next(clock))
    new = await cache.register_process("account", "account:kraken:7", token=2)
    with pytest.raises(StaleLeaseError, match="older than the registered one"):
        await cache.register_process("account", "account:kraken:7", token=1)
    assert await redis_client.hget("process:components", "account:kraken:7") == new.encode()
    newer = await cache.register_process("account", "account:kraken:7", token=3)
    assert await redis_client.hget("process:components", "account:kraken:7") == newer.encode()


def test_the_book_lets_a_client_sign_only_while_its_lease_is_sure() -> None:
    now = [0.0]
    book = FenceBook(clock=lambda: now[0])
    assert book.may_sign(1) and book.token(1) == UNFENCED
    book.set(1, 4, valid_until=10.0)
    assert book.may_sign(1)
    now[0] = 10.5
    assert not book.may_sign(1)
    book.set(1, 4, valid_until=20.0)
    book.expire(1)
    assert not book.may_sign(1) and book.token(1) == 4


async def test_a_client_without_a_sure_lease_sends_nothing_signed() -> None:
    """Real ccxt against the simulator: the refusal comes before the request is signed or sent."""
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=3)
    async with Simulator(config) as sim:
        account = sim.world.accounts_of("kraken")[0]
        factory = ClientFactory({"kraken": strip_credentials(sim.client_config(account))})
        client = factory.create("kraken", Credentials(account.api_key, account.secret))
        sure = [False]
        ws_guard.attach(client, lock=asyncio.Lock(), may_sign=lambda: sure[0])
        try:
            await factory.ensure_markets(client)
            with pytest.raises(StaleLeaseError, match="not signing"):
                await client.fetch_balance()
            assert sim.world.signers.runs(account.api_key) == []
            sure[0] = True
            await client.fetch_balance()
            assert [r.requests for r in sim.world.signers.runs(account.api_key)] == [1]
        finally:
            await client.close()
            await factory.close()


async def test_one_call_renews_every_lease_and_names_the_lost_ones(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    a, b = store(redis_client, settings, "a"), store(redis_client, settings, "b")
    for lease in ("k1", "k2", "k3"):
        assert await a.acquire(lease) is not None
    assert await b.acquire("k4") is not None
    await redis_client.pexpire(lease_key(settings.stream_prefix, "k2"), 1000)
    await redis_client.script_flush()  # a restarted Redis forgot the script: loaded again
    answers = await a.renew_all(["k1", "k2", "k3", "k4", "k5"])
    assert answers == {
        "k1": Held("k1", 1),
        "k2": Held("k2", 1),
        "k3": Held("k3", 1),
        "k4": None,
        "k5": None,
    }
    assert await redis_client.pttl(lease_key(settings.stream_prefix, "k2")) > 1000
    assert await b.holder("k4") == "b"


class BlockingApply:
    """An ``apply`` that, once ``block`` is set, waits for ``release``: a cycle starting many
    accounts, holding the pool's lock meanwhile."""

    def __init__(self) -> None:
        self.owned: dict[int, AccountRef] = {}
        self.block = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, owned: dict[int, AccountRef]) -> None:
        self.owned = owned
        if self.block:
            self.entered.set()
            await self.release.wait()


async def pool_of(
    lease_store: LeaseStore,
    cursors: CursorStore,
    accounts: int,
    *,
    renew_s: float = 1.0,
    key_of: Callable[[AccountRef], str] = lambda ref: f"key{ref.ex_id}",
) -> tuple[LeasePool, BlockingApply, dict[int, AccountRef]]:
    """A pool (TTL 30 s) offered ``accounts`` accounts, its ``apply`` not blocking yet."""
    apply = BlockingApply()
    pool = LeasePool(lease_store, cursors, key_of, apply, ttl_s=30.0, renew_s=renew_s)
    offered = {ex_id: AccountRef(ex_id, 1, "kraken") for ex_id in range(accounts)}
    await pool.offer(offered)
    return pool, apply, offered


async def test_leases_are_renewed_while_a_cycle_is_still_starting_accounts(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """At 100 accounts a cycle's ``apply`` can outlast the lease's margin: renewal must not wait
    for it (nor for one round trip per key), or every account stops signing meanwhile."""
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix)
    lease_store = store(redis_client, settings, "p")
    pool, apply, accounts = await pool_of(lease_store, cursors, 5, renew_s=0.1)
    assert set(pool.held) == {f"key{ex_id}" for ex_id in accounts}
    apply.block = True
    keys = [lease_key(settings.stream_prefix, lease) for lease in pool.held]

    async def renewed() -> bool:
        return all([await redis_client.pttl(key) > 5000 for key in keys])

    renewer = renewer_of(pool, lease_store, redis_client, renew_s=0.1)
    async with asyncio.timeout(DEADLINE_S), renewing(renewer), asyncio.TaskGroup() as group:
        cycle = group.create_task(pool.cycle())
        await apply.entered.wait()
        for key in keys:
            await redis_client.pexpire(key, 5000)
        while not await renewed():
            await asyncio.sleep(0.05)
        assert not cycle.done(), "renewed only once the cycle ended"
        apply.release.set()


async def test_a_lease_lost_at_renewal_stops_signing_at_once_and_its_accounts_at_the_cycle(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix)
    pool, apply, accounts = await pool_of(store(redis_client, settings, "p"), cursors, 3)
    assert all(cursors.fences.may_sign(ex_id) for ex_id in accounts)
    await redis_client.delete(lease_key(settings.stream_prefix, "key1"))
    assert await store(redis_client, settings, "q").acquire("key1") is not None
    assert await pool.renew()
    assert not cursors.fences.may_sign(1), "signed on after its lease was lost"
    assert cursors.fences.may_sign(0) and cursors.fences.may_sign(2)
    assert set(pool.held) == {"key0", "key2"}
    await pool.cycle()
    assert set(apply.owned) == {0, 2}


class HeldBackRenewals(LeaseStore):
    """Renews at once but hands the answer back only when ``release`` is set: an answer still on
    its way while the lease changes hands."""

    def __init__(self, redis: aioredis.Redis, settings: Settings, owner: str) -> None:
        super().__init__(redis, prefix=settings.stream_prefix, owner=owner, ttl_s=30.0)
        self.hold = False
        self.waiting = asyncio.Event()
        self.release_answer = asyncio.Event()

    async def renew_all(self, leases: Sequence[str]) -> dict[str, Held | None]:
        answers = await super().renew_all(leases)
        if self.hold:
            self.waiting.set()
            await self.release_answer.wait()
        return answers


async def test_a_renewal_answer_about_an_earlier_tenure_does_not_drop_the_new_one(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    lease_store = HeldBackRenewals(redis_client, settings, "p")
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix)
    pool, apply, accounts = await pool_of(lease_store, cursors, 1, key_of=lambda ref: "key")
    assert pool.held == {"key": 1}
    lease_store.hold = True
    async with asyncio.timeout(DEADLINE_S), asyncio.TaskGroup() as group:
        renewal = group.create_task(pool.renew())
        await lease_store.waiting.wait()
        lease_store.hold = False
        await pool.leave()
        await pool.offer(accounts)
        assert pool.held == {"key": 2}
        lease_store.release_answer.set()
        assert not await renewal, "the answer about token 1 dropped the lease taken again as token 2"
    assert pool.held == {"key": 2} and apply.owned == accounts
    assert cursors.fences.may_sign(0) and cursors.fences.token(0) == 2


class CountedRenewals(LeaseStore):
    def __init__(self, redis: aioredis.Redis, settings: Settings, owner: str) -> None:
        super().__init__(redis, prefix=settings.stream_prefix, owner=owner, ttl_s=30.0)
        self.calls = 0

    async def renew_all(self, leases: Sequence[str]) -> dict[str, Held | None]:
        self.calls += 1
        return await super().renew_all(leases)


async def test_only_the_renewal_thread_renews(redis_client: aioredis.Redis, settings: Settings) -> None:
    """A cycle renewing too would renew each lease twice an interval (once on the renewal thread):
    one more round trip of every key on a busy loop, for nothing."""
    lease_store = CountedRenewals(redis_client, settings, "p")
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix)
    pool, apply, accounts = await pool_of(lease_store, cursors, 3)
    for _ in range(3):
        await pool.cycle()
    assert lease_store.calls == 0 and set(apply.owned) == set(accounts)
    keys = [lease_key(settings.stream_prefix, lease) for lease in pool.held]
    for key in keys:
        await redis_client.pexpire(key, 5000)
    renewer = renewer_of(pool, lease_store, redis_client, renew_s=0.1)
    async with asyncio.timeout(DEADLINE_S), renewing(renewer):
        while not all([await redis_client.pttl(key) > 5000 for key in keys]):
            await asyncio.sleep(0.01)
    assert lease_store.calls == 0, "renewed through the loop's client, not the thread's own"
    assert set(pool.held) == {"key0", "key1", "key2"}


class OverlappingAcquires(LeaseStore):
    """Holds each ``acquire`` back until two are in flight at once: taken one after another, the
    first would wait for ever (the test's deadline)."""

    def __init__(self, redis: aioredis.Redis, settings: Settings, owner: str) -> None:
        super().__init__(redis, prefix=settings.stream_prefix, owner=owner, ttl_s=30.0)
        self.in_flight = 0
        self.overlap = asyncio.Event()

    async def acquire(self, lease: str, *, above: int = 0) -> Held | None:
        self.in_flight += 1
        if self.in_flight > 1:
            self.overlap.set()
        try:
            await self.overlap.wait()
            return await super().acquire(lease, above=above)
        finally:
            self.in_flight -= 1


async def test_leases_are_taken_many_at_once_up_to_the_share(
    redis_client: aioredis.Redis, settings: Settings
) -> None:
    """One after another, 1,000 keys cost ~7,000 round trips in a row before the first account
    starts; many at once, but never past the share while another producer is in the pool."""
    cursors = CursorStore(redis_client, prefix=settings.stream_prefix)
    async with asyncio.timeout(DEADLINE_S):
        pool, apply, accounts = await pool_of(
            OverlappingAcquires(redis_client, settings, "p"), cursors, 2 * TAKE_CONCURRENCY + 6
        )
    assert len(pool.held) == len(accounts) and set(apply.owned) == set(accounts)
    await pool.leave()
    assert await store(redis_client, settings, "q").join() == ["q"]
    await pool.offer(accounts)
    assert len(pool.held) == fair_share(["p", "q"], "p", len(accounts)) == TAKE_CONCURRENCY + 3
