"""``BookedFill``: a fill with the PnL the FIFO engine computed for it, one ``trades`` row.

Its fields are ``Fill``'s followed by ``PnlRow``'s, derived rather than listed again, so a column
added to ``Fill`` reaches the row, the insert and its column list without another edit. ``time``
is not among them: the insert derives it from ``time_ms``.
"""

from __future__ import annotations

import msgspec

from fullon_account_service.ledger.conventions import UNKNOWN
from fullon_account_service.ledger.fifo import PnlRow
from fullon_account_service.ledger.fills import Fill

PNL_FIELDS = PnlRow.__struct_fields__
BookedFill = msgspec.defstruct(
    "BookedFill",
    [(field.name, field.type) for struct in (Fill, PnlRow) for field in msgspec.structs.fields(struct)],
    module=__name__,
    frozen=True,
    gc=False,
)
"""A Struct, so a batch of them is JSON-encoded without a dict per row; positional, so one is
built from the two records' tuples without naming 26 fields per fill."""
_ORDER_TYPE = Fill.__struct_fields__.index("order_type")


def booked(fill: Fill, pnl: PnlRow) -> msgspec.Struct:
    """The row of ``fill``; an unknown ``order_type`` is stored as ``"unknown"`` (fullon requires one)."""
    values = [*msgspec.structs.astuple(fill), *msgspec.structs.astuple(pnl)]
    if values[_ORDER_TYPE] is None:
        values[_ORDER_TYPE] = UNKNOWN
    return BookedFill(*values)
