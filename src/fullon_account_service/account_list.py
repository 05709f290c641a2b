"""The watched accounts as an operator sees them (``fullon-account accounts list``): no secret.

Read through ``storage.db.plain_reads`` (the driver alone, no SQLAlchemy import), so listing
accounts answers in a fraction of a second; whether credentials are found is asked of the same
resolver the producers use, and only its verdict and its reason are kept, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from fullon_account_service.errors import ConfigError, CredentialsError
from fullon_account_service.producers.credentials import CredentialResolver
from fullon_account_service.redaction import redact_text
from fullon_account_service.storage.db.plain_reads import StoredAccount, accounts


@dataclass(frozen=True, slots=True)
class AccountRow(StoredAccount):
    """One account as an operator sees it: everything but credentials."""

    credentials: str
    """``set``, ``missing`` or ``invalid``: whether the producer will find credentials."""
    credentials_reason: str = ""
    """Why they are missing or invalid (never a secret); empty when ``set``."""

    @property
    def credentials_text(self) -> str:
        if not self.credentials_reason:
            return self.credentials
        return f"{self.credentials}: {self.credentials_reason}"

    @property
    def collection(self) -> str:
        return "rest (forced)" if self.force_rest else "auto"


async def list_accounts(
    database_url: str, env: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> list[AccountRow]:
    resolver = CredentialResolver(os.environ if env is None else env, secrets_file)
    return [
        AccountRow(**asdict(row), credentials=state, credentials_reason=reason)
        for row in await accounts(database_url)
        for state, reason in [_credential_state(resolver, row.ex_id)]
    ]


def _credential_state(resolver: CredentialResolver, ex_id: int) -> tuple[str, str]:
    """(state, reason): the resolver's own message says which variable or file is wrong."""
    try:
        resolver.resolve(ex_id)
    except CredentialsError as e:
        return ("missing" if "no credentials" in str(e) else "invalid"), redact_text(str(e))
    except ConfigError as e:
        return "invalid", redact_text(str(e))
    return "set", ""
