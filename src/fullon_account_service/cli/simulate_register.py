"""``simulate --register``: the simulated accounts, their credentials and URLs, ready in one step.

Each simulated account is added to the configured database (as ``accounts add`` would, under
the user ``SIM_USER``, named ``sim-<venue>-<index>``; one already there is reused), and its
credentials go into a secrets file in the format ``ACCOUNT_SECRETS_FILE`` reads, written with
mode 0600. Entries of other ex_ids already in that file are kept, so pointing it at an existing
secrets file adds to it. The credentials exist only inside the simulator.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fullon_account_service.account_admin import add_account
from fullon_account_service.producers.credentials import load_secrets_file
from fullon_account_service.storage.db.context import DatabaseContext

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from fullon_account_service.simulator.server import Simulator

SIM_USER = "sim@fullon.local"


@dataclass(frozen=True, slots=True)
class Registered:
    ex_id: int
    venue: str
    index: int
    name: str
    created: bool


async def register_simulated(sim: Simulator, factory: async_sessionmaker[AsyncSession]) -> list[Registered]:
    """Every account of a running venue, in the database: added, or found from an earlier run."""
    async with DatabaseContext(factory) as db:
        owner = await db.users.get_by_mail(SIM_USER)
        existing = (
            {
                (ex.cat_exchange.name, ex.name): ex.ex_id
                for ex in await db.exchanges.get_user_exchanges(owner.uid)
            }
            if owner is not None
            else {}
        )
    registered = []
    for account in sim.world.accounts:
        if account.venue not in sim.venues:
            continue
        name = f"sim-{account.venue}-{account.index}"
        ex_id = existing.get((account.venue, name))
        if ex_id is None:
            ex_id = (await add_account(factory, exchange=account.venue, name=name, user=SIM_USER)).ex_id
        registered.append(
            Registered(ex_id, account.venue, account.index, name, ex_id not in existing.values())
        )
    return registered


def write_secrets(path: Path, sim: Simulator, registered: list[Registered]) -> None:
    """Merge the accounts' credentials into ``path`` (0600 from the moment it exists)."""
    entries: dict[str, dict[str, Any]] = load_secrets_file(path) if path.exists() else {}
    accounts = {(a.venue, a.index): a for a in sim.world.accounts}
    for row in registered:
        account = accounts[(row.venue, row.index)]
        entries[str(row.ex_id)] = {"key": account.api_key, "secret": account.secret}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(entries, out, indent=2, sort_keys=True)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
