"""Our error tree. ccxt, redis and SQLAlchemy errors are translated at the boundary and raised
``from`` the original, so callers handle a handful of types instead of three libraries' worth.

    AccountServiceError
    ├── ConfigError          bad settings or secrets file: stop at start-up, name the variable
    ├── ContractError        an event that breaks the contract: dead-letter it, never retry
    ├── CredentialsError     missing or rejected credentials: mark the account in error
    ├── TransientError       worth retrying: network, rate limit, outage of Redis or the database
    │   └── RateLimited      the venue asked us to slow down (``retry_after_s`` when it said so)
    └── FatalError           retrying cannot help: unknown symbol, permission, unsupported call
        └── StorageUnavailable   the store refuses every write (missing table or column, revoked
                                 grant, full disk, read-only): no event is at fault, so a sink
                                 stops, reports it and waits for an operator instead of
                                 dead-lettering

Whether a failure is worth retrying is decided by its class, where it is translated: only a
``TransientError`` is, and ``should_retry`` is the one place that states it (a REST call under
the key lock, the outbox); loops that branch on the error's kind catch ``TransientError``
directly. How long to wait between tries is ``retry.RetryPolicy``'s business, not the error's.
The consumer also waits on ``StorageUnavailable`` rather than dead-letter every entry of a store
that refuses them all.
"""

from __future__ import annotations


class AccountServiceError(Exception):
    """Base of every error this service raises on purpose."""


class ConfigError(AccountServiceError):
    pass


class ContractError(AccountServiceError):
    pass


class CredentialsError(AccountServiceError):
    pass


class TransientError(AccountServiceError):
    pass


class StaleLeaseError(AccountServiceError):
    """A write fenced by a lease token older than the one the storage has seen: another producer
    owns the account now, so this one must stop collecting it."""


class RateLimited(TransientError):
    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class FatalError(AccountServiceError):
    pass


class StorageUnavailable(FatalError):
    pass


def should_retry(err: BaseException) -> bool:
    return isinstance(err, TransientError)
