"""Saving and restoring a FIFO book's open lots, so the PnL of the next fills starts from them.

Two ways back to a book without replaying a symbol's history:

- ``encode_lots`` / ``decode_lots``: the lots as JSON ``[[qty, price, fee_per_unit], ...]``,
  oldest first, the quantities signed with the side of the position (the checkpoint a sink
  stores after each batch, ``trade_books``);
- ``restore``: the lots rebuilt from the newest stored rows alone (where there is no checkpoint
  to trust), walking back only as far as the open lots reach.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import msgspec

from fullon_account_service.ledger.fifo import REL_EPS, FifoBook, Lot, normalise
from fullon_account_service.ledger.fills import Fill

_LOTS = msgspec.json.Decoder(list[tuple[float, float, float]])
_ENCODE = msgspec.json.Encoder()


def encode_lots(book: FifoBook) -> str:
    """Signed quantities (the side of the position), so the JSON says what it holds on its own."""
    side = book.direction
    return _ENCODE.encode([(side * lot.qty, lot.price, lot.fee_per_unit) for lot in book.lots]).decode()


def decode_lots(symbol: str, lots: str) -> FifoBook:
    raw = _LOTS.decode(lots)
    direction = 1 if raw and raw[0][0] > 0 else -1
    return FifoBook(symbol, [Lot(abs(qty), price, fee) for qty, price, fee in raw], direction)


class Recorded(Protocol):
    """A stored row: its fill and the position its row recorded after it."""

    @property
    def cur_volume(self) -> Any: ...


@dataclass(frozen=True, slots=True)
class StoredFill:
    fill: Fill
    cur_volume: float


R = TypeVar("R", bound=Recorded)


def restore(
    symbol: str,
    newest_first: Sequence[R],
    exhausted: bool,
    fill_of: Callable[[R], Fill] = lambda row: row.fill,  # type: ignore[attr-defined]
) -> FifoBook | None:
    """Rebuild the open lots after ``newest_first[0]`` from stored rows, without replaying history.

    Under FIFO the open lots are the newest units opened since the position last crossed or
    touched zero, so walking back from the newest row and taking each same-side fill's opening
    quantity until the recorded position is covered gives them exactly. ``exhausted`` says the
    sequence reaches the first fill of the symbol. Returns None when more rows are needed.
    ``fill_of`` turns a row into its fill; only the rows walked over are converted.
    """
    if not newest_first:
        return FifoBook(symbol) if exhausted else None
    if newest_first[0].cur_volume == 0:
        return FifoBook(symbol)
    book = FifoBook(symbol)
    position = float(newest_first[0].cur_volume)
    side = 1 if position > 0 else -1
    need = abs(position)
    lots: list[Lot] = []
    for i, row in enumerate(newest_first):
        is_last = i + 1 == len(newest_first)
        if is_last and not exhausted:
            return None
        before = 0.0 if is_last else newest_first[i + 1].cur_volume
        fill = fill_of(row)
        direction, qty, fee_q = normalise(fill, book.base, book.quote)
        if direction == side and qty > 0:
            crossed = before * side < 0
            opened = abs(row.cur_volume) if crossed else qty
            take = min(opened, need)
            lots.append(Lot(take, fill.price, fee_q / qty))
            need -= take
            if need <= REL_EPS * abs(position):
                break
        if before == 0 or before * side < 0:
            break
    lots.reverse()
    return FifoBook(symbol, lots, side)
