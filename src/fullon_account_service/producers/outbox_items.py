"""What the outbox queues, and how it sends a batch again item by item after a refusal.

An item is an event (``envelope``, with a future when its writer waits for it) or a write that
goes ahead of the events queued after it (``side_write``). When Redis refuses a whole batch with
an error that is not transient, the outbox sends its items one by one (``one_by_one``) to find
the ones Redis refuses on their own; a transient error stops that walk, and what was not sent yet
goes back to the buffer with the refused ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.contract import Envelope
from fullon_account_service.errors import TransientError
from fullon_account_service.producers.side_write import SideWrite


@dataclass(slots=True)
class Item:
    """An event (``envelope``) or a write to send ahead of the events queued after it."""

    envelope: Envelope | None
    done: asyncio.Future[None] | None
    write: SideWrite | None = None


@dataclass(slots=True)
class OneByOne:
    """How sending a batch item by item went."""

    published: list[Item] = field(default_factory=list)
    refused: list[tuple[Item, Exception]] = field(default_factory=list)
    unsent: list[Item] = field(default_factory=list)
    """From the item a transient error stopped at (``error``) to the end of the batch."""
    error: TransientError | None = None


async def one_by_one(publisher: Publisher, batch: list[Item]) -> OneByOne:
    out = OneByOne()
    for i, item in enumerate(batch):
        try:
            await _send(publisher, item)
        except TransientError as e:
            out.unsent, out.error = batch[i:], e
            return out
        except Exception as e:
            out.refused.append((item, e))
        else:
            out.published.append(item)
    return out


async def _send(publisher: Publisher, item: Item) -> None:
    if item.envelope is not None:
        await publisher.publish([item.envelope])
    elif item.write is not None:
        try:
            await publisher.publish([], [item.write])
        except Exception:
            item.write.failed()
            raise


def failed(writes: list[SideWrite]) -> None:
    """The pipeline that carried ``writes`` failed; they go again with the retry."""
    for write in writes:
        write.failed()
