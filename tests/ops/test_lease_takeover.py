"""Leased ownership with real processes: three producers share thirty Kraken accounts, one is killed
and the others take its keys over, a fourth joins and takes its share, is paused past the lease
TTL and resumed, and through all of it no key is signed by two producers at once and every fill
reaches the bus.

Each producer names itself to the simulator with its own ``X-Sim-Client`` header (its overrides
file), so the simulator's ``SignerLog`` says which producer signed each key's requests, run by run.
A key's runs can never outnumber the lease tokens issued for it: every run needs a tenure of its
own, and two producers signing at once would interleave into many more runs than hand-overs.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from ops_helpers import PREFIX, PROCESS_DEADLINE_S
from producer_proc import ProducerProcess, start_producer

from fullon_account_service.bus.streams import ENTRY_FIELD, stream_key
from fullon_account_service.contract import TradeFill
from fullon_account_service.contract.codec import decode
from fullon_account_service.producers.clients import strip_credentials
from fullon_account_service.producers.leases import lease_id, lease_key, token_key
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.model import SimAccount
from fullon_account_service.simulator.scenario import ScenarioConfig
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.simulator.signers import CLIENT_HEADER
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade

ACCOUNTS = 30
TTL_S = 3.0
RENEW_S = 1.0
POLL_S = 1.0
LOAD_ALLOWANCE_S = 20.0
"""Added to TTL + one renewal + one poll for the takeover bound: on a loaded 2-core machine a
survivor's new ccxt sessions can take seconds to make their first signed call."""


@dataclass
class Named:
    name: str
    proc: ProducerProcess

    @property
    def pid(self) -> int:
        return self.proc.proc.pid


async def add_kraken_accounts(env: dict[str, str], sim: Simulator, directory: Path) -> dict[int, SimAccount]:
    """One exchange row per simulated Kraken account, its credentials in ``env``; ex_id -> account."""
    url = Settings.from_env(env).database_url
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    await upgrade(url)
    engine = make_engine(url)
    accounts = sim.world.accounts_of("kraken")
    try:
        async with DatabaseContext(make_session_factory(engine)) as db:
            user = await db.users.add("leases@example.com")
            rows = [await db.exchanges.add(user.uid, "kraken", f"kraken-{a.index}") for a in accounts]
            await db.commit()
    finally:
        await engine.dispose()
    by_ex_id = {row.ex_id: account for row, account in zip(rows, accounts, strict=True)}
    for ex_id, account in by_ex_id.items():
        env[f"EX_ID_{ex_id}_KEY"] = account.api_key
        env[f"EX_ID_{ex_id}_SECRET"] = account.secret
    return by_ex_id


async def start_named(name: str, sim: Simulator, env: dict[str, str], directory: Path) -> Named:
    """A producer whose every request to the simulator carries ``X-Sim-Client: name``."""
    account = sim.world.accounts_of("kraken")[0]
    config = {**strip_credentials(sim.client_config(account)), "rateLimit": 20}
    config["headers"] = {CLIENT_HEADER: name}
    path = directory / f"overrides-{name}.json"
    path.write_text(json.dumps({"kraken": config}))
    return Named(name, await start_producer([], {**env, "ACCOUNT_EXCHANGE_OVERRIDES": str(path)}))


async def holders(redis: aioredis.Redis, keys: list[str]) -> dict[str, int | None]:
    """Lease id -> pid of the producer holding it (owner ids are ``host:pid:random``)."""
    values = await redis.mget([lease_key(PREFIX, k) for k in keys])
    return {k: int(v.decode().split(":")[1]) if v else None for k, v in zip(keys, values, strict=True)}


async def until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    producers: list[Named],
    timeout_s: float = PROCESS_DEADLINE_S,
) -> None:
    """Await ``check()`` (an async callable returning bool) until true; fail with the outputs."""
    try:
        async with asyncio.timeout(timeout_s):
            while not await check():
                await asyncio.sleep(0.2)
    except TimeoutError:
        tails = "\n".join(f"--- {p.name}\n" + "\n".join(p.proc.lines[-15:]) for p in producers)
        raise AssertionError(f"timed out waiting for {what}\n{tails}") from None


async def bus_fills(redis: aioredis.Redis) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for _, fields in await redis.xrange(stream_key(PREFIX, "trade")):
        envelope = decode(fields[ENTRY_FIELD])
        if isinstance(envelope.payload, TradeFill):
            out.setdefault(envelope.ex_id, []).append(envelope.event_id)
    return out


async def test_leases_move_on_kill_and_join_without_overlap(
    cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    config = ScenarioConfig(venues=("kraken",), accounts_per_venue=ACCOUNTS, seed=16, rate_per_s=4)
    async with Simulator(config) as sim:
        env = {
            **cli_env,
            "REDIS_URL": redis_url,
            "ACCOUNT_POLL_INTERVAL": str(POLL_S),
            "ACCOUNT_REDISCOVER_INTERVAL": "600",
            "ACCOUNT_LEASE_TTL_S": str(TTL_S),
            "ACCOUNT_LEASE_RENEW_S": str(RENEW_S),
        }
        by_ex_id = await add_kraken_accounts(env, sim, tmp_path)
        key_of = {a.api_key: lease_id("kraken", a.api_key) for a in by_ex_id.values()}
        leases = sorted(key_of.values())
        api_key_of = {lease: key for key, lease in key_of.items()}
        signers = sim.world.signers
        redis = aioredis.Redis.from_url(redis_url)
        producers: list[Named] = []
        sim.start_engine()
        try:
            producers = [await start_named(f"p{i}", sim, env, tmp_path) for i in range(3)]

            async def settled(live: list[Named]) -> bool:
                """Every lease held by a live producer, fair shares, each key last signed by its holder."""
                held = await holders(redis, leases)
                pids = {p.pid: p.name for p in live}
                counts = [list(held.values()).count(p.pid) for p in live]
                if any(h not in pids for h in held.values()) or max(counts) - min(counts) > 1:
                    return False
                return all(
                    (runs := signers.runs(api_key_of[lease])) and runs[-1].client == pids[pid]
                    for lease, pid in held.items()
                    if pid is not None
                )

            await until(lambda: settled(producers), "three producers to split the keys", producers)
            victim, survivors = producers[0], producers[1:]
            victim_leases = [k for k, pid in (await holders(redis, leases)).items() if pid == victim.pid]
            killed_ms = sim.world.now_ms()
            victim.proc.proc.send_signal(signal.SIGKILL)

            async def taken_over() -> bool:
                return all(
                    (runs := signers.runs(api_key_of[lease]))[-1].client != victim.name
                    and runs[-1].first_ms > killed_ms
                    for lease in victim_leases
                )

            await until(taken_over, "the survivors to collect the victim's accounts", producers)
            takeover_s = (
                max(signers.runs(api_key_of[k])[-1].first_ms - killed_ms for k in victim_leases) / 1000
            )
            print(f"takeover after SIGKILL: {takeover_s:.2f}s (TTL {TTL_S}s)")  # noqa: T201
            assert takeover_s <= TTL_S + RENEW_S + POLL_S + LOAD_ALLOWANCE_S
            await until(lambda: settled(survivors), "the survivors to share every key", producers)

            joiner = await start_named("p3", sim, env, tmp_path)
            producers.append(joiner)
            live = [*survivors, joiner]
            await until(lambda: settled(live), "the fourth producer to take its share", producers)
            final = await holders(redis, leases)
            assert sorted(list(final.values()).count(p.pid) for p in live) == [10, 10, 10]

            # Paused past the TTL, then resumed: its leases went to the others meanwhile, and on
            # waking it must neither sign with them nor move their cursors before it notices.
            joiner.proc.proc.send_signal(signal.SIGSTOP)
            await until(lambda: settled(survivors), "the others to take the paused one's keys", producers)
            joiner.proc.proc.send_signal(signal.SIGCONT)
            await until(lambda: settled(live), "the resumed producer to take a share again", producers)

            await sim.stop_engine()

            async def every_fill_on_the_bus() -> bool:
                on_bus = await bus_fills(redis)
                return all(len(set(on_bus.get(ex_id, []))) >= len(a.fills) for ex_id, a in by_ex_id.items())

            await until(every_fill_on_the_bus, "every fill on the bus", producers)
            for p in live:
                p.proc.proc.send_signal(signal.SIGTERM)
            for p in live:
                assert await p.proc.wait(PROCESS_DEADLINE_S) == 0, p.proc.output
        finally:
            for p in producers:
                await p.proc.kill()
            await sim.stop_engine()
        on_bus = await bus_fills(redis)
        tokens = await redis.mget([token_key(PREFIX, k) for k in leases])
        await redis.aclose()

    for ex_id, account in by_ex_id.items():
        truth = {f.trade_id for f in account.fills}
        ids = set(on_bus.get(ex_id, []))
        assert len(ids) == len(truth), f"ex_id {ex_id}: {len(ids)} fills on the bus, {len(truth)} made"
    for lease, token in zip(leases, tokens, strict=True):
        runs = signers.runs(api_key_of[lease])
        assert token is not None and len(runs) <= int(token), (
            f"key {lease}: {len(runs)} signer runs over {int(token or 0)} lease tenures: "
            + ", ".join(f"{r.client}@{r.first_ms}-{r.last_ms}" for r in runs)
        )
    for p in producers:
        assert "Invalid nonce" not in p.proc.output, p.name
        assert "Traceback" not in p.proc.output, p.name
