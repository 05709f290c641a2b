"""What the producer needs to know about one exchange account, detached from the ORM.

Discovery hands us SQLAlchemy ``Exchange`` rows, callers of the seed API hand us the same rows or
look-alikes. ``AccountRef`` copies the handful of fields we use into a frozen value, so nothing
downstream touches a lazy-loading, session-bound object from another task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AccountRef:
    ex_id: int
    uid: int
    venue: str
    """ccxt exchange id (``cat_exchanges.name``)."""
    name: str = ""
    force_rest: bool = False


def account_ref(exchange: Any) -> AccountRef:
    """An ``AccountRef`` from an ORM ``Exchange`` row, a look-alike, or an ``AccountRef``."""
    if isinstance(exchange, AccountRef):
        return exchange
    cat = getattr(exchange, "cat_exchange", None)
    venue = (
        getattr(cat, "name", None)
        or getattr(exchange, "cat_ex_name", None)
        or getattr(exchange, "venue", None)
    )
    if not venue:
        raise ValueError(f"exchange {getattr(exchange, 'ex_id', '?')} has no cat_exchange name (ccxt id)")
    return AccountRef(
        ex_id=int(exchange.ex_id),
        uid=int(getattr(exchange, "uid", 0) or 0),
        venue=str(venue).lower(),
        name=str(getattr(exchange, "name", "") or ""),
        force_rest=bool(getattr(exchange, "force_rest", False)),
    )
