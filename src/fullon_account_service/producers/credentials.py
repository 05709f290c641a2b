"""Credentials per account: environment first, then a secrets file readable by its owner only.

Variables follow fullon_credentials: ``EX_ID_{ex_id}_KEY`` / ``EX_ID_{ex_id}_SECRET`` plus
``EX_ID_{ex_id}_PASSPHRASE``; for Hyperliquid KEY is the wallet address and SECRET the private
key. The secrets file (``ACCOUNT_SECRETS_FILE``) is JSON or TOML ``{ex_id: {key, secret,
passphrase?}}`` and is refused unless its mode is 0600 or stricter, because a group- or
world-readable key file is a leak waiting to happen. It is read again whenever it changed, so an
account added to it while the producer runs starts at its next attempt instead of staying in
error until a restart. Every value resolved is registered with ``redaction`` before it leaves
this module.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fullon_account_service.errors import ConfigError, CredentialsError
from fullon_account_service.logs import get_logger
from fullon_account_service.redaction import register_secret

_log = get_logger("producers.credentials")
WALLET_VENUES = frozenset({"hyperliquid"})


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secret material for one account; ``repr`` shows nothing secret."""

    key: str = field(repr=False)
    secret: str = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def ccxt_config(self, venue: str) -> dict[str, str]:
        """The ccxt constructor keys for ``venue``."""
        if venue in WALLET_VENUES:
            return {"walletAddress": self.key, "privateKey": self.secret}
        config = {"apiKey": self.key, "secret": self.secret}
        if self.passphrase:
            config["password"] = self.passphrase
        return config

    @property
    def owner_key(self) -> str:
        """Identity of the API key: accounts sharing it share one request owner (nonces)."""
        return self.key


class CredentialResolver:
    """Resolves ``Credentials`` for an ex_id from ``env`` and the optional secrets file."""

    def __init__(self, env: Mapping[str, str] | None = None, secrets_file: Path | None = None) -> None:
        self._env = os.environ if env is None else env
        self._file = secrets_file
        self._file_entries: dict[str, dict[str, Any]] | None = None
        self._file_stamp: tuple[int, int, int] | None = None
        self._refusal: str | None = None
        """Why the file's latest version was not read, while it is not."""

    def resolve(self, ex_id: int) -> Credentials:
        creds = self._from_env(ex_id) or self._from_file(ex_id)
        if creds is None:
            raise CredentialsError(
                f"no credentials for ex_id {ex_id}: set EX_ID_{ex_id}_KEY and EX_ID_{ex_id}_SECRET"
                " or add it to the secrets file"
            )
        for value in (creds.key, creds.secret, creds.passphrase):
            register_secret(value)
        return creds

    def found(self, ex_id: int) -> Credentials | None:
        """``resolve``, or ``None`` where it raises: for callers that compare credentials (a key's
        lease, a rotation), the account's start reports the error itself."""
        try:
            return self.resolve(ex_id)
        except (CredentialsError, ConfigError):
            return None

    def _from_env(self, ex_id: int) -> Credentials | None:
        key = self._env.get(f"EX_ID_{ex_id}_KEY", "").strip()
        secret = self._env.get(f"EX_ID_{ex_id}_SECRET", "").strip()
        if not key and not secret:
            return None
        if not key or not secret:
            raise CredentialsError(
                f"ex_id {ex_id}: EX_ID_{ex_id}_KEY and EX_ID_{ex_id}_SECRET must both be set"
            )
        passphrase = self._env.get(f"EX_ID_{ex_id}_PASSPHRASE", "").strip() or None
        return Credentials(key, secret, passphrase)

    def _from_file(self, ex_id: int) -> Credentials | None:
        if self._file is None:
            return None
        entry = self._entries(self._file, ex_id).get(str(ex_id))
        if entry is None:
            return None
        key, secret = entry.get("key"), entry.get("secret")
        if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
            raise CredentialsError(f"ex_id {ex_id}: secrets file entry needs string 'key' and 'secret'")
        passphrase = entry.get("passphrase")
        return Credentials(key, secret, passphrase if isinstance(passphrase, str) and passphrase else None)

    def _entries(self, path: Path, ex_id: int) -> dict[str, dict[str, Any]]:
        """The file's entries, parsed again when its inode, size or status-change time moved (an
        editor's save replaces the inode; a write in place or a chmod changes the time). A file
        that cannot be read now (half written, mode widened) keeps serving the entries read
        before, so the accounts running on them are not moved; it is logged once, and an ex_id
        not among those entries gets the reason."""
        try:
            st = path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_ctime_ns)
        except OSError:
            stamp = None
        if stamp is None or stamp != self._file_stamp:
            self._file_stamp = stamp
            try:
                self._file_entries = load_secrets_file(path)
                self._refusal = None
            except ConfigError as e:
                if str(e) != self._refusal:
                    _log.warning("secrets file not read; keeping the entries read before", error=str(e))
                self._refusal = str(e)
        if self._refusal is not None and str(ex_id) not in (self._file_entries or {}):
            raise ConfigError(self._refusal)
        return self._file_entries or {}


def load_secrets_file(path: Path) -> dict[str, dict[str, Any]]:
    """Parse the secrets file after checking it is private to its owner."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigError(f"ACCOUNT_SECRETS_FILE={path}: cannot read ({e.strerror})") from e
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"ACCOUNT_SECRETS_FILE={path} has mode {stat.S_IMODE(mode):04o}: it must be 0600 (owner only);"
            f" run: chmod 600 {path}"
        )
    raw = path.read_bytes()
    try:
        data: Any = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"ACCOUNT_SECRETS_FILE={path} is not valid {path.suffix or 'JSON'}") from e
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"ACCOUNT_SECRETS_FILE={path} must map ex_id to {{key, secret}} tables")
    entries = {str(k): dict(v) for k, v in data.items()}
    for entry in entries.values():
        for name in ("key", "secret", "passphrase"):
            value = entry.get(name)
            if isinstance(value, str):
                register_secret(value)
    return entries
