"""A ``fullon-account producer`` in a subprocess: accounts in the database, the simulator's URLs in
an overrides file, its stderr collected line by line so tests can wait for a line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fullon_account_service.producers.clients import strip_credentials
from fullon_account_service.settings import Settings
from fullon_account_service.simulator.server import Simulator
from fullon_account_service.storage import DatabaseContext
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.migrate import upgrade


async def add_accounts(env: Mapping[str, str], venues: Sequence[str]) -> list[int]:
    """Migrate the CLI's database and register one account per venue; their ex_ids."""
    url = Settings.from_env(dict(env)).database_url
    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    await upgrade(url)
    engine = make_engine(url)
    try:
        async with DatabaseContext(make_session_factory(engine)) as db:
            user = await db.users.add("ops@example.com")
            ex_ids = [(await db.exchanges.add(user.uid, venue, f"{venue}-main")).ex_id for venue in venues]
            await db.commit()
    finally:
        await engine.dispose()
    return ex_ids


def simulator_env(sim: Simulator, ex_ids: Sequence[int], directory: Path) -> dict[str, str]:
    """Credentials of the first account of each venue and the overrides file, for ``ex_ids`` in
    venue order."""
    overrides: dict[str, object] = {}
    env: dict[str, str] = {}
    for ex_id, venue in zip(ex_ids, sim.venues, strict=False):
        account = sim.world.accounts_of(venue)[0]
        overrides[venue] = {**strip_credentials(sim.client_config(account)), "rateLimit": 20}
        env[f"EX_ID_{ex_id}_KEY"] = account.api_key
        env[f"EX_ID_{ex_id}_SECRET"] = account.secret
    path = directory / "sim-overrides.json"
    path.write_text(json.dumps(overrides))
    env["ACCOUNT_EXCHANGE_OVERRIDES"] = str(path)
    return env


@dataclass
class ProducerProcess:
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip())

    async def wait_for_line(self, match: Callable[[str], bool], timeout_s: float) -> str:
        async with asyncio.timeout(timeout_s):
            while True:
                for line in self.lines:
                    if match(line):
                        return line
                if self.proc.returncode is not None:
                    raise AssertionError("producer exited:\n" + "\n".join(self.lines[-30:]))
                await asyncio.sleep(0.1)

    async def wait(self, timeout_s: float) -> int:
        async with asyncio.timeout(timeout_s):
            code = await self.proc.wait()
            if self._reader is not None:
                await self._reader
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


async def start_producer(args: Sequence[str], env: Mapping[str, str]) -> ProducerProcess:
    """``fullon-account producer ARGS`` with ``env`` laid over this process's environment."""
    script = Path(sys.executable).with_name("fullon-account")
    proc = await asyncio.create_subprocess_exec(
        str(script),
        "producer",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    producer = ProducerProcess(proc)
    producer._reader = asyncio.get_running_loop().create_task(producer._read(), name="producer-stderr")
    return producer
