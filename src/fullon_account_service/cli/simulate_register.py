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

if TYPE_CHECKING:
    from fullon_account_service.simulator.server import Simulator

SIM_USER = "sim@fullon.local"


@dataclass(frozen=True, slots=True)
class Registered:
    ex_id: int
    venue: str
    index: int
    name: str
    created: bool


async def register_simulated(sim: Simulator, database_url: str) -> list[Registered]:
    """Every account of a running venue, in the database: added, or found from an earlier run."""
    registered = []
    for account in sim.world.accounts:
        if account.venue not in sim.venues:
            continue
        name = f"sim-{account.venue}-{account.index}"
        added = await add_account(
            database_url, exchange=account.venue, name=name, user=SIM_USER, existing_ok=True
        )
        registered.append(Registered(added.ex_id, account.venue, account.index, name, added.created))
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
