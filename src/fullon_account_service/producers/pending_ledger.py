"""Deposits and withdrawals seen pending, per account, in Redis: read again until they end.

A venue that lists a deposit or withdrawal before it moves the balance (Bybit's asset records)
lists it under the time it was asked for. The ledger read counts a record once it is done; one
still pending when the ledger cursor passes its time would never be read again, and the balance
would stay unexplained. So each pending record is remembered here (``remember``, before the page
holding it is published, hence before the cursor can move past it), every ledger read reads the
records again from the oldest one remembered (``History.fetch_pending_transfers``), and a record
leaves once its final state is on the bus or it ended with nothing booked (``forget``).

Key ``{prefix}pending_ledger:{ex_id}``, a hash ``{reason}:{record id} -> record time (ms)``, at
most ``MAX_PENDING`` per account: past that the oldest are dropped with a warning (each one
dropped is then published only if a read from the cursor still finds it done). Writes are not
fenced: one producer owns an account at a time, and a record remembered twice or forgotten
late is only read once more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from fullon_account_service.bus.redis_errors import REDIS_ERRORS, translate
from fullon_account_service.contract import Envelope, LedgerEntry, LedgerReason
from fullon_account_service.logs import get_logger
from fullon_account_service.producers.normalise import Batch
from fullon_account_service.producers.venues.common import transfer_key
from fullon_account_service.storage.redis_calls import awaited

MAX_PENDING = 1_000
_TRANSFERS = frozenset({LedgerReason.DEPOSIT, LedgerReason.WITHDRAWAL})
_log = get_logger("producers.pending_ledger")


def pending_ledger_key(prefix: str, ex_id: int) -> str:
    return f"{prefix}pending_ledger:{ex_id}"


def done_keys(envelopes: Iterable[Envelope]) -> set[str]:
    """The follow keys of the deposits and withdrawals among these ledger entries."""
    return {
        transfer_key(e.payload.reason, e.payload.ex_ledger_id)
        for e in envelopes
        if isinstance(e.payload, LedgerEntry) and e.payload.reason in _TRANSFERS
    }


@dataclass(slots=True)
class TransferFollow:
    """What one ledger read saw of deposits and withdrawals: pending ones, and those that ended
    (done, on the bus once the read is over, or void)."""

    pending: dict[str, int] = field(default_factory=dict)
    ended: set[str] = field(default_factory=set)

    def add(self, batch: Batch) -> None:
        self.pending.update(batch.pending)
        self.ended |= batch.void | done_keys(batch.envelopes)


class PendingLedger:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, limit: int = MAX_PENDING) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limit = limit

    async def get(self, ex_id: int) -> dict[str, int]:
        """Follow key -> record time of the account's pending records."""
        try:
            raw: dict[bytes | str, bytes | str] = await awaited(
                self._redis.hgetall(pending_ledger_key(self._prefix, ex_id))
            )
        except REDIS_ERRORS as e:
            raise translate(e, "pending ledger read") from e
        out: dict[str, int] = {}
        for name, value in raw.items():
            key = name.decode() if isinstance(name, bytes) else name
            try:
                out[key] = int(value)
            except ValueError:
                out[key] = 0  # unreadable time: read again from the start of the venue's range
        return out

    async def remember(self, ex_id: int, pending: Mapping[str, int]) -> None:
        if not pending:
            return
        key = pending_ledger_key(self._prefix, ex_id)
        try:
            await awaited(self._redis.hset(key, mapping=dict(pending)))
            size = await awaited(self._redis.hlen(key))
        except REDIS_ERRORS as e:
            raise translate(e, "pending ledger write") from e
        if size > self._limit:
            await self._drop_oldest(ex_id, size - self._limit)

    async def forget(self, ex_id: int, ended: Iterable[str]) -> None:
        gone = list(ended)
        if not gone:
            return
        try:
            await awaited(self._redis.hdel(pending_ledger_key(self._prefix, ex_id), *gone))
        except REDIS_ERRORS as e:
            raise translate(e, "pending ledger write") from e

    async def _drop_oldest(self, ex_id: int, count: int) -> None:
        oldest = sorted((await self.get(ex_id)).items(), key=lambda item: (item[1], item[0]))[:count]
        _log.warning(
            "too many pending deposits and withdrawals; the oldest are no longer followed",
            ex_id=ex_id,
            dropped=[k for k, _ in oldest],
            limit=self._limit,
        )
        await self.forget(ex_id, (k for k, _ in oldest))
