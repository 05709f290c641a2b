"""Account administration (what ``fullon-account accounts`` does), without the terminal: below
both the CLI and the demo, so the demo never imports the CLI.

Accounts are added and removed through ``storage.db.plain_writes`` (the driver alone, no
SQLAlchemy import, so ``accounts add|remove`` answer in a fraction of a second); every change
wakes running producers at commit (``NOTIFY`` on PostgreSQL), so they pick the account up or
drop it at once instead of at their next re-read. ``check_account`` makes one authenticated call
(``fetch_balance``) through the same credential resolver and client factory the producers use,
so "ok" here means the producer will get in too. Nothing here returns or prints a secret: errors
carry the class name and a redacted message.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fullon_account_service.errors import AccountServiceError, ConfigError
from fullon_account_service.producers.credentials import WALLET_VENUES, CredentialResolver
from fullon_account_service.redaction import redact_text
from fullon_account_service.storage.db import plain_writes
from fullon_account_service.storage.db.plain_writes import AddedAccount


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    detail: str


def known_exchange(exchange: str) -> bool:
    """Whether ccxt.pro has ``exchange``: one module per exchange in ``ccxt/pro``.

    Read from the package's files, because importing ccxt.pro to ask takes seconds."""
    spec = importlib.util.find_spec("ccxt")
    if spec is None or not spec.submodule_search_locations or not exchange.isidentifier():
        return False
    return any((Path(root) / "pro" / f"{exchange}.py").is_file() for root in spec.submodule_search_locations)


def credential_hint(ex_id: int, exchange: str) -> list[str]:
    """Where the operator puts the new account's credentials (names only, never values)."""
    key, secret = ("wallet address", "private key") if exchange in WALLET_VENUES else ("API key", "secret")
    return [
        f"set EX_ID_{ex_id}_KEY ({key}) and EX_ID_{ex_id}_SECRET ({secret})"
        + ("" if exchange in WALLET_VENUES else f", plus EX_ID_{ex_id}_PASSPHRASE if the venue uses one"),
        f'or add "{ex_id}": {{"key": ..., "secret": ...}} to the ACCOUNT_SECRETS_FILE'
        " (JSON or TOML, mode 0600)",
    ]


async def add_account(
    database_url: str,
    *,
    exchange: str,
    name: str,
    user: str,
    force_rest: bool = False,
    test: bool = False,
    existing_ok: bool = False,
) -> AddedAccount:
    """Creates the user and the exchange kind when missing. A second account of one name is
    refused, or with ``existing_ok`` returned as it is (``created`` False)."""
    if not known_exchange(exchange):
        raise ConfigError(f"{exchange!r} is not a ccxt.pro exchange id (e.g. kraken, bybit, hyperliquid)")
    added = await plain_writes.add_account(
        database_url, exchange=exchange, name=name, user=user, test=test, force_rest=force_rest
    )
    if not added.created and not existing_ok:
        raise ConfigError(f"{user} already has {exchange} account {name!r}: ex_id {added.ex_id}")
    return added


async def remove_account(database_url: str, ex_id: int, *, deactivate: bool) -> bool:
    """Delete the row, or only switch it off; orders and trades stay either way. False: no such ex_id."""
    return await plain_writes.remove_account(database_url, ex_id, deactivate=deactivate)


async def check_account(
    database_url: str,
    ex_id: int,
    *,
    env: Mapping[str, str] | None = None,
    secrets_file: Path | None = None,
) -> CheckResult:
    """One ``fetch_balance`` with the account's credentials, against the venue (or its override)."""
    from fullon_account_service.producers.ccxt_errors import translate
    from fullon_account_service.producers.clients import ClientFactory, load_overrides
    from fullon_account_service.storage.db.plain_reads import accounts

    venue = next((row.exchange for row in await accounts(database_url) if row.ex_id == ex_id), None)
    if venue is None:
        return CheckResult(False, f"no account with ex_id {ex_id}")
    try:
        credentials = CredentialResolver(os.environ if env is None else env, secrets_file).resolve(ex_id)
        clients = ClientFactory(load_overrides(env))
    except AccountServiceError as e:
        return CheckResult(False, _describe(e))
    try:
        client = clients.create(venue, credentials)
        try:
            await clients.ensure_markets(client)
            balance = await client.fetch_balance()
        except Exception as e:
            return CheckResult(False, _describe(translate(e, f"{venue} fetch_balance", client)))
        finally:
            await client.close()
    except AccountServiceError as e:
        return CheckResult(False, _describe(e))
    finally:
        await clients.close()
    currencies = len(balance.get("total") or {})
    return CheckResult(True, f"{venue} answered fetch_balance for ex_id {ex_id} ({currencies} currencies)")


def _describe(err: AccountServiceError) -> str:
    return redact_text(f"{type(err).__name__}: {err}")
