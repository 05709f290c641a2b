"""Snapshots of many accounts folded into one conditional write per account, newest exchange time wins.

Each account gets a list of updates ``(exchange_ms, partial, content)``; ``content`` maps a key
(currency, symbol) to its value. Per account and hash:

- updates are taken in exchange-time order (arrival order among equal times), those older than the
  stored snapshot dropped (equal ones kept: a replay rewrites the same thing);
- the last complete update replaces the document and the partial ones after it are laid over it,
  in order (key by key; a hash may pass a ``Combine`` that builds a key's value from the one it
  lays over, as balances do to keep a known ``used`` under a totals-only update); the write is
  refused by Redis if a newer snapshot was stored meanwhile, and is then folded again over what
  is stored;
- partial updates with no complete one before them are laid over the stored document and written
  with a compare-and-set (the only case that reads before writing).

All accounts of all hashes travel in one script call (see ``versioned_hash``); only the ones that
lost a race are read and written again.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fullon_account_service.errors import TransientError
from fullon_account_service.storage.cache_shapes import decode, encode
from fullon_account_service.storage.versioned_hash import (
    CONFLICT,
    WRITTEN,
    BatchWriter,
    Document,
    Stored,
    Write,
)

MAX_ATTEMPTS = 10

Update = tuple[int | None, bool, Mapping[str, Any]]
"""``(exchange_ms, partial, content)``; ``exchange_ms`` ``None``: unversioned (never stale)."""
Render = Callable[[Document | None, Mapping[str, Any], float], Document | None]
"""(stored document or ``None`` to replace, folded content, now) -> document (``None``: delete)."""
Combine = Callable[[Any, Any], Any]
"""(value laid over, newer value) -> the value kept for that key."""
U = TypeVar("U", bound=Update)


@dataclass(slots=True)
class Folded:
    """What a list of updates amounts to: one replace (from ``base``) or one merge."""

    replace: bool
    content: Mapping[str, Any]
    top: int | None
    base: int | None


def _ms(update: Update) -> int:
    return -1 if update[0] is None else update[0]


def newest_run(updates: Sequence[U]) -> list[U]:
    """``updates`` in time order from the last complete one: nothing before it can matter, since
    it is either replaced by it or at least as old as a stored snapshot that is newer still."""
    if len(updates) == 1:
        return list(updates)
    ordered = sorted(updates, key=_ms)
    start = 0
    for index, (_, partial, _) in enumerate(ordered):
        if not partial:
            start = index
    return ordered[start:]


def fold(updates: Sequence[Update], stored_ms: int | None, combine: Combine | None = None) -> Folded | None:
    """The one write ``updates`` amount to over a stored snapshot of ``stored_ms``; ``None``: all stale."""
    if len(updates) == 1:  # the common case, kept cheap: most batches hold one snapshot per account
        ms, partial, content = updates[0]
        if stored_ms is not None and ms is not None and ms < stored_ms:
            return None
        return Folded(not partial, content, ms, None if partial else ms)
    live = [u for u in newest_run(updates) if stored_ms is None or u[0] is None or u[0] >= stored_ms]
    if not live:
        return None
    merged: dict[str, Any] = {}
    folded = Folded(replace=False, content=merged, top=live[-1][0], base=None)
    for ms, partial, content in live:
        if not partial:
            folded.replace, folded.base = True, ms
            merged.clear()
        if combine is None:
            merged.update(content)
        else:
            for key, value in content.items():
                merged[key] = combine(merged[key], value) if key in merged else value
    return folded


def _write(ex_id: int, folded: Folded, stored: Stored | None, render: Render, now: float) -> Write:
    if folded.replace:
        document = render(None, folded.content, now)
        return Write(ex_id, None if document is None else encode(document), folded.top, folded.base)
    assert stored is not None, "a merge is planned only for an account that was read"
    document = render(decode(stored.document), folded.content, now)
    return Write(ex_id, None if document is None else encode(document), folded.top, expect=stored)


async def apply(
    writer: BatchWriter,
    renders: Sequence[Render],
    updates: Sequence[Mapping[int, Sequence[Update]]],
    *,
    clock: Callable[[], float],
    combines: Sequence[Combine | None] = (),
) -> list[dict[int, bool]]:
    """``updates[i]`` into hash ``i`` of ``writer``, rendered by ``renders[i]``, keys of one
    batch combined by ``combines[i]`` (replaced when missing or ``None``).

    Per hash and ``ex_id``: ``True`` if written, ``False`` if every update was stale.
    """
    outcome: list[dict[int, bool]] = [{} for _ in renders]
    pending = [dict(u) for u in updates]
    for attempt in range(MAX_ATTEMPTS):
        if not any(pending):
            return outcome
        if attempt:
            # Jitter, so writers that collided do not collide again in lockstep.
            await asyncio.sleep(random.uniform(0.0, 0.001 * 2**attempt))
            to_read = [list(p) for p in pending]
        else:
            to_read = [[ex_id for ex_id, ups in p.items() if all(u[1] for u in ups)] for p in pending]
        stored = await writer.read(to_read) if any(to_read) else [{} for _ in pending]
        now = clock()
        writes: list[list[Write]] = []
        for h, render in enumerate(renders):
            combine = combines[h] if h < len(combines) else None
            writes.append([])
            for ex_id, ups in pending[h].items():
                seen = stored[h].get(ex_id)
                folded = fold(ups, None if seen is None else seen.exchange_ms, combine)
                if folded is None:
                    outcome[h][ex_id] = False
                else:
                    writes[h].append(_write(ex_id, folded, seen, render, now))
        results = await writer.write(writes)
        for h, codes in enumerate(results):
            for ex_id, code in codes.items():
                if code != CONFLICT:
                    outcome[h][ex_id] = code == WRITTEN
            pending[h] = {ex_id: pending[h][ex_id] for ex_id, code in codes.items() if code == CONFLICT}
    if any(pending):
        lost = sorted(ex_id for p in pending for ex_id in p)
        raise TransientError(f"concurrent writers kept changing ex_ids {lost}")
    return outcome
