"""The chaos run, shared by ``bench/chaos.py`` (long runs) and ``tests/chaos`` (the bounded CI form).

Private Redis and PostgreSQL (``chaos_servers``), the simulator with 3 venues x 3 accounts and every
fault on (``chaos_sim``), 2 producers and 2 sinks per group as real subprocesses (``chaos_procs``).
The run has two windows:

1. bad frames: every fault on, malformed and truncated frames included; only sinks are killed, so
   that at its end (damaging faults off) the dead letters can be held to exactly the damaged
   frames the simulator sent: a frame on the wire to a producer killed a moment later is gone
   with that producer, which is no loss (REST reconciliation re-reads the state) but would make
   the count unprovable;
2. outages: the other faults still on, a random producer or sink SIGKILLed and restarted every
   few seconds, Redis SIGKILLed once and restarted on its AOF, PostgreSQL stopped (immediate) for
   ``pg_outage_s`` once.

Then the scenario stops, faults go off, and the run waits (deadline ``settle_timeout_s``) until
every group has neither lag nor pending entries and the stored books equal the truth; the verdict
is taken as things stand then. Every process started is killed at the end, on any failure too.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis.asyncio as aioredis
from redis import exceptions as rex
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chaos_procs import CLI, pipeline, service_env
from chaos_servers import PrivatePostgres, PrivateRedis, Reaper, run_checked
from chaos_sim import NO_FAULT, SimulatorProcess
from chaos_streams import drained, events_published
from chaos_verdict import (
    ChaosVerdict,
    Letters,
    canary_hits,
    fill_counts,
    judge_letters,
    ledger_counts,
    log_files,
)
from fullon_account_service.bus.streams import dead_letter_key
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.verify import compare_books, load_stored

PREFIX = "fullon:account:"
LEDGER_EXERCISED = ("funding", "deposit", "withdrawal", "transfer_in", "transfer_out")
"""Ledger reasons every run must make at least once, so that the ledger equality covers each."""
Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    seed: int = 1
    duration_s: float = 120.0
    rate_per_s: float = 40.0
    accounts_per_venue: int = 3
    kill_every_s: tuple[float, float] = (2.0, 5.0)
    """Seconds between two kills, drawn uniformly from this range."""
    bad_frames_share: float = 0.3
    """The part of ``duration_s`` given to the first window (damaged frames, sinks killed only)."""
    pg_outage_s: float = 10.0
    settle_timeout_s: float = 180.0
    partitions: int = 1
    """``ACCOUNT_STREAM_PARTITIONS`` of every process, and of the run's own reads of the streams."""
    startup_timeout_s: float = 300.0
    keep_dir: bool = False
    """Leave the temp directory (logs, AOF, cluster) for a look after the run; a failed run always
    leaves it."""


def _env(
    redis: PrivateRedis, pg: PrivatePostgres, sim: SimulatorProcess, root: Path, partitions: int
) -> dict[str, str]:
    return service_env(
        {
            "REDIS_URL": redis.url,
            "DATABASE_URL": pg.url,
            "ACCOUNT_DATA_DIR": str(root / "data"),
            "ACCOUNT_SECRETS_FILE": str(sim.secrets),
            "ACCOUNT_EXCHANGE_OVERRIDES": str(sim.overrides),
            "ACCOUNT_POLL_INTERVAL": "2",
            # Redis is SIGKILLed with an AOF synced every second, so it can lose events it had
            # acknowledged; the REST audits put them back, and must come within the settle deadline.
            "ACCOUNT_AUDIT_INTERVAL_S": "10",
            "ACCOUNT_RECONNECT_DELAY": "0.5",
            "ACCOUNT_CLAIM_IDLE_MS": "3000",
            "ACCOUNT_STREAM_PARTITIONS": str(partitions),
            "LOG_CONSOLE": "true",
            "LOG_LEVEL": "INFO",
        }
    )


class ChaosRun:
    def __init__(self, options: ChaosOptions, say: Say) -> None:
        self.options = options
        self.say = say
        self.rng = random.Random(f"chaos|{options.seed}")
        self.root = Path(tempfile.mkdtemp(prefix=f"fullon-chaos-{options.seed}-"))
        self.reaper = Reaper()
        atexit.register(self.reaper.reap)  # an interpreter that exits without running ``finally``
        self.redis = PrivateRedis(self.root, self.reaper)
        self.pg = PrivatePostgres(self.root, self.reaper)
        self.sim = SimulatorProcess(
            self.root,
            self.reaper,
            seed=options.seed,
            rate=options.rate_per_s,
            accounts=options.accounts_per_venue,
        )
        self.services = pipeline(self.root, self.reaper)
        self.env: dict[str, str] = {}
        self.verdict = ChaosVerdict(options.seed, options.duration_s)
        self._started = 0.0

    def _log(self, message: str) -> None:
        self.say(f"[{time.monotonic() - self._started:6.1f}s] {message}")

    async def run(self) -> ChaosVerdict:
        self._started = time.monotonic()
        self.say(f"chaos seed {self.options.seed}: files in {self.root}")
        try:
            await self._run()
        finally:
            await self.sim.close()
            for service in self.services:
                await service.kill()
            await self.redis.kill()
            with contextlib.suppress(RuntimeError):
                await self.pg.stop_immediate()
            self.reaper.reap()
            atexit.unregister(self.reaper.reap)
            if self.options.keep_dir or not self.verdict.passed:
                self.say(f"files kept in {self.root}")
            else:
                shutil.rmtree(self.root, ignore_errors=True)
        return self.verdict

    async def _run(self) -> None:
        await asyncio.gather(self.redis.start(), self.pg.init())
        self.env = _env(self.redis, self.pg, self.sim, self.root, self.options.partitions)
        await run_checked([CLI, "db", "upgrade"], timeout_s=180, env=self.env)
        await self.sim.start(self.env)
        self._log(f"simulator at {self.sim.control_url}, {len(self.sim.ex_ids)} accounts registered")
        for service in self.services:
            await service.start(self.env)
        await self._wait_ready(self.options.startup_timeout_s)
        self._log("every producer and sink at work, every account subscribed: chaos starts")
        first = self.options.duration_s * self.options.bad_frames_share
        await self._chaos(first, kinds=("sink-cache", "sink-orm"))
        await self.sim.set_faults({"malformed_frame_probability": 0.0, "truncated_frame_probability": 0.0})
        self.verdict.letters_before_outages = await self._letters_settled(60.0)
        self._log(f"bad frames window over: {self.verdict.letters_before_outages}")
        rest = self.options.duration_s - first
        outages = [(rest * 0.25, self._redis_outage), (rest * 0.55, self._pg_outage)]
        await self._chaos(rest, kinds=("producer", "sink-cache", "sink-orm"), outages=outages)
        self.verdict.steps = await self.sim.stop_scenario()
        await self.sim.set_faults(NO_FAULT)
        self._log(f"scenario stopped after {self.verdict.steps} steps; settling")
        await self._settle()
        await self._judge_rest()
        self._check_exercised()

    async def _wait_ready(self, timeout_s: float) -> None:
        """Until every process is at work and every account has a live private subscription."""
        wanted = set(self.sim.ex_ids)
        try:
            async with asyncio.timeout(timeout_s):
                while not (all(s.ready() for s in self.services) and wanted <= await self.sim.subscribed()):
                    await self._restart_exited()
                    await asyncio.sleep(0.5)
        except TimeoutError:
            waiting = [s.name for s in self.services if not s.ready()]
            raise RuntimeError(f"not ready within {timeout_s:g}s: {waiting or 'subscriptions'}") from None

    def _check_exercised(self) -> None:
        """A run that injected no damaged frame or killed nothing of a kind proved nothing about it."""
        before = self.verdict.letters_before_outages
        if before is None or before.injected == 0:
            self.verdict.problems.append(
                "no damaged frame was injected: the dead-letter check proved nothing"
            )
        for kind in ("producer", "sink-cache", "sink-orm", "redis", "postgres"):
            if not self.verdict.kills[kind]:
                self.verdict.problems.append(f"no {kind} was killed")
        reasons = self.verdict.ledger.reasons
        for reason in LEDGER_EXERCISED:
            if not reasons[reason]:
                self.verdict.problems.append(f"no {reason} ledger entry was made: its check proved nothing")

    async def _chaos(
        self,
        seconds: float,
        *,
        kinds: tuple[str, ...],
        outages: Sequence[tuple[float, Callable[[], Awaitable[None]]]] = (),
    ) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        pending = sorted(outages, key=lambda o: o[0])
        next_kill = start + self.rng.uniform(*self.options.kill_every_s)
        turn = 0
        while (now := loop.time()) - start < seconds:
            await self._restart_exited()
            if pending and now - start >= pending[0][0]:
                await pending.pop(0)[1]()
            elif now >= next_kill:
                ready = [s for s in self.services if s.kind == kinds[turn % len(kinds)] and s.ready()]
                if ready:
                    victim = self.rng.choice(ready)
                    await victim.kill()
                    self.verdict.kills[victim.kind] += 1
                    self._log(f"SIGKILL {victim.name}")
                    await victim.start(self.env)
                    turn += 1
                    next_kill = loop.time() + self.rng.uniform(*self.options.kill_every_s)
            await asyncio.sleep(0.1)
        for _, outage in pending:
            await outage()

    async def _restart_exited(self) -> None:
        for service in self.services:
            if service.reap_exit():
                self.verdict.exits[service.kind] += 1
                self._log(
                    f"{service.name} exited with {service.exits[-1]}; restarting (see {service.log.name})"
                )
                await service.start(self.env)

    async def _redis_outage(self) -> None:
        self._log("SIGKILL redis")
        await self.redis.kill()
        self.verdict.kills["redis"] += 1
        await asyncio.sleep(1.0)  # an outage of some length, not a wait for a condition
        await self.redis.start()
        self._log("redis restarted on its AOF")

    async def _pg_outage(self) -> None:
        self._log("postgres: pg_ctl stop -m immediate")
        await self.pg.stop_immediate()
        self.verdict.kills["postgres"] += 1
        await asyncio.sleep(self.options.pg_outage_s)  # the outage itself, not a wait for a condition
        await self.pg.start()
        self._log("postgres started again")

    async def _letters(self) -> Letters:
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            rows = await client.xrange(dead_letter_key(PREFIX))
        finally:
            await client.aclose()
        reasons = [fields.get(b"reason", b"").decode(errors="replace") for _, fields in rows]
        return judge_letters(reasons, await self.sim.injected())

    async def _letters_settled(self, timeout_s: float) -> Letters:
        """Until every damaged frame sent is dead-lettered, or the deadline; the letters then."""
        letters = await self._letters()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while letters.frames < letters.injected:
                    await self._restart_exited()
                    await asyncio.sleep(0.5)
                    letters = await self._letters()
        return letters

    async def _settle(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        engine = make_engine(self.pg.url)
        client = aioredis.Redis.from_url(self.redis.url)
        try:
            factory = make_session_factory(engine)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.settle_timeout_s):
                    while not await self._books_settled(client, factory):
                        await self._restart_exited()
                        await asyncio.sleep(1.0)
                    self.verdict.settled = True
            self.verdict.settle_s = loop.time() - started
            if not self.verdict.settled:
                await self._books_settled(client, factory)
            self.verdict.events = await events_published(client, PREFIX, self.options.partitions)
        finally:
            await client.aclose()
            await engine.dispose()

    async def _books_settled(self, client: aioredis.Redis, factory: async_sessionmaker[AsyncSession]) -> bool:
        """No lag, nothing pending, and the books equal the truth: the comparison kept in the verdict."""
        try:
            settled = await drained(client, PREFIX, self.options.partitions)
        except rex.RedisError:
            return False
        truth = await self.sim.truth()
        stored = await load_stored(set(self.sim.ex_ids.values()), factory, client)
        self.verdict.comparison = compare_books(truth, self.sim.ex_ids, stored, check_pnl=True)
        self.verdict.fills = fill_counts(truth, self.sim.ex_ids, stored)
        self.verdict.ledger = ledger_counts(truth, self.sim.ex_ids, stored)
        return settled and self.verdict.comparison.equal

    async def _judge_rest(self) -> None:
        self.verdict.letters = await self._letters()
        places = log_files(self.root / "logs")
        places |= {f"redis {self.redis.log.name}": self.redis.log.read_bytes()}
        places |= await self._redis_contents()
        places["postgres table dump"] = (await self.pg.dump()).encode()
        canaries = self.sim.canaries
        if len(canary_hits(canaries, {"secrets file": self.sim.secrets.read_bytes()})) != len(
            self.sim.ex_ids
        ):
            self.verdict.problems.append(
                "the canary scan does not find the secrets in the secrets file itself"
            )
        self.verdict.canaries = canary_hits(canaries, places)
        self.verdict.kills = Counter(self.verdict.kills)

    async def _redis_contents(self) -> dict[str, bytes]:
        """Every key of the private Redis, its name and every value in it, as bytes."""
        client = aioredis.Redis.from_url(self.redis.url)
        out: dict[str, bytes] = {}
        try:
            async for key in client.scan_iter(count=500):
                kind = (await client.type(key)).decode()
                parts: list[bytes] = [key]
                if kind == "string":
                    parts.append(await client.get(key) or b"")
                elif kind == "hash":
                    for k, v in (await client.hgetall(key)).items():
                        parts += [k, v]
                elif kind == "list":
                    parts += await client.lrange(key, 0, -1)
                elif kind == "set":
                    parts += list(await client.smembers(key))
                elif kind == "zset":
                    parts += await client.zrange(key, 0, -1)
                elif kind == "stream":
                    for _, fields in await client.xrange(key):
                        for k, v in fields.items():
                            parts += [k, v]
                out[f"redis key {key.decode(errors='replace')}"] = b"\n".join(parts)
        finally:
            await client.aclose()
        return out


async def run_chaos(options: ChaosOptions, say: Say) -> ChaosVerdict:
    return await ChaosRun(options, say).run()
