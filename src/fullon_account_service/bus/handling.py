"""How a consumer hands a batch to its handler and judges what failed.

Failure policy, in order:
- an entry the codec rejects, or one the handler rejects with ``ContractError``, is dead-lettered
  at once: retrying cannot make bad bytes good;
- a handler raising ``TransientError`` (database down) or ``StorageUnavailable`` (a table
  missing, a grant revoked, a disk full) fails every entry alike and is no entry's fault: the
  consumer keeps the entries not yet stored in hand and hands them to the handler again at the
  head of the next batch, after a capped backoff, without reading them again; new entries only
  fill the batch's remaining room, so the held set never outgrows one batch. Held entries are
  re-claimed to itself with JUSTID every round, so they never go idle for another consumer, and
  their delivery counts do not grow: a store that stays broken for a day burns no deliveries.
  While it waits, the consumer records the reason where ``health`` reads it
  (``bus.sink_status``);
- any other failure of a batch is retried entry by entry to isolate the bad one, and judged once
  every entry was tried. An entry that fails while a neighbour is stored is poison: on its
  ``max_deliveries``-th delivery it is dead-lettered with the reason, before that it stays
  pending and comes back through XAUTOCLAIM after ``claim_idle_ms``. When no entry was stored and
  at least ``SYSTEM_WIDE_FAILURES`` failed, all with the same error class, the failure is taken
  for one that hits every entry and handled like ``StorageUnavailable``. Held entries share the
  next batch with new ones, so poison that arrived alone is told apart as soon as anything else
  is stored; an entry once seen failing beside a stored one stays poison for this consumer
  (remembered, up to ``MAX_REMEMBERED_POISON``) and never again counts towards a failure of
  everything. (Fewer failures than that, with nothing stored, count per entry as poison.)
"""

from __future__ import annotations

from fullon_account_service.bus.batch import Delivery, Handler, Held, regroup
from fullon_account_service.bus.reader import RawEntry, Rejected, StreamEntries
from fullon_account_service.errors import ContractError, StorageUnavailable, TransientError
from fullon_account_service.logs import get_logger

log = get_logger("bus")

SYSTEM_WIDE_FAILURES = 3
MAX_REMEMBERED_POISON = 10_000
WAIT_ERRORS = (TransientError, StorageUnavailable)
"""Errors every entry would hit: the batch is held and retried, never counted or dead-lettered."""

Done = list[tuple[str, list[bytes]]]
"""(stream, entry ids) stored by the handler: to acknowledge."""


class BatchHandling:
    def __init__(self, handler: Handler, *, max_deliveries: int) -> None:
        self._handler = handler
        self._max_deliveries = max_deliveries
        self.held: Held | None = None
        """Entries not stored because the store failed them all: handed over again next round."""
        # (stream, entry id) of entries seen failing while a neighbour was stored, oldest first.
        self._poison: dict[tuple[str, bytes], None] = {}

    async def handle(
        self, accepted: list[StreamEntries], deliveries: list[Delivery], done: Done, rejected: list[Rejected]
    ) -> None:
        """Hand ``deliveries`` over, filling ``done`` and ``rejected`` as entries are settled
        (both kept when this raises); a ``WAIT_ERRORS`` error leaves the rest in ``held``."""
        if len(deliveries) > 1 and await self._whole_batch(accepted, deliveries):
            done += [(part.stream, part.ids) for part in accepted]
        elif deliveries:
            await self._one_by_one(accepted, deliveries, done, rejected)

    async def _whole_batch(self, accepted: list[StreamEntries], deliveries: list[Delivery]) -> bool:
        """Whether the handler stored the whole batch; False: isolate the failure entry by entry."""
        try:
            await self._handler(deliveries)
        except WAIT_ERRORS:
            self.held = Held(accepted, deliveries)
            raise
        except Exception:
            log.warning("batch failed, retrying entry by entry", size=len(deliveries))
            return False
        return True

    async def _one_by_one(
        self,
        accepted: list[StreamEntries],
        deliveries: list[Delivery],
        done: Done,
        rejected: list[Rejected],
    ) -> None:
        """Each entry alone. An error no store classified is judged once the pass is over: poison
        if any neighbour was stored, a failure of everything if none was and enough failed alike."""
        entries = [part.entry(i) for part in accepted for i in range(len(part.ids))]
        settled: set[int] = set()
        suspects: list[tuple[int, Exception]] = []
        for i, (entry, delivery) in enumerate(zip(entries, deliveries, strict=True)):
            try:
                await self._handler([delivery])
            except WAIT_ERRORS:
                self._hold(entries, deliveries, settled)
                raise
            except ContractError as e:
                rejected.append(Rejected(entry, f"rejected by handler: {e}"))
                settled.add(i)
            except Exception as e:
                suspects.append((i, e))
            else:
                done.append((entry.stream, [entry.raw_id]))
                settled.add(i)
        # Entries this consumer saw fail while a neighbour was stored are poison for good.
        if done:
            self._poison.update(dict.fromkeys((entries[i].stream, entries[i].raw_id) for i, _ in suspects))
        known = {i for i, _ in suspects if (entries[i].stream, entries[i].raw_id) in self._poison}
        unknown = [(i, e) for i, e in suspects if i not in known]
        if len(unknown) >= SYSTEM_WIDE_FAILURES and len({type(e) for _, e in unknown}) == 1:
            # Known poison is left pending to be counted, not held with the rest.
            self._hold(entries, deliveries, settled | known)
            error = unknown[-1][1]
            raise StorageUnavailable(
                f"all {len(unknown)} entries tried failed alike and none was stored: "
                f"{type(error).__name__}: {error}"
            ) from error
        for i, error in suspects:
            delivery = deliveries[i]
            if delivery.deliveries >= self._max_deliveries:
                reason = f"failed {delivery.deliveries} deliveries: {type(error).__name__}: {error}"
                rejected.append(Rejected(entries[i], reason))
                self._poison.pop((entries[i].stream, entries[i].raw_id), None)
            else:
                log.warning(
                    "entry failed, left pending",
                    stream=delivery.stream,
                    entry_id=delivery.entry_id,
                    deliveries=delivery.deliveries,
                    error=error,
                )
        while len(self._poison) > MAX_REMEMBERED_POISON:
            del self._poison[next(iter(self._poison))]

    def _hold(self, entries: list[RawEntry], deliveries: list[Delivery], settled: set[int]) -> None:
        keep = [i for i in range(len(entries)) if i not in settled]
        self.held = Held(regroup([entries[i] for i in keep]), [deliveries[i] for i in keep])
