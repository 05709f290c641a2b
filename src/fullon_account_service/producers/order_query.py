"""Asking a venue about one order by id, where a refusal about that one order is an answer.

Shared by ``resolve`` and the venues' ``reads.query_order``: a venue that does not know the order,
or cannot even be asked about it (a malformed id or symbol), answers ``None``; rate limits,
credential errors and outages propagate (the cycle is retried).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ccxt

from fullon_account_service.errors import AccountServiceError, FatalError

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls

_NOT_FOUND = (ccxt.OrderNotFound, ccxt.InvalidOrder)


async def call_for_order(session: VenueCalls, method: str, *args: Any) -> Any:
    """The call's answer, or ``None`` when the venue says it has no such order or refuses the
    question for this order alone (a bad id or symbol): one odd entry never stops the others."""
    try:
        return await session.call(method, *args)
    except FatalError:
        return None
    except AccountServiceError as e:
        cause = e.__cause__
        if isinstance(cause, _NOT_FOUND) or not isinstance(cause, ccxt.BaseError):
            return None  # not found, or ccxt could not even build the request for this id
        raise


def match(answer: Any, order_id: str) -> dict[str, Any] | None:
    """The row of ``order_id`` in a call's answer (one row or a list), if any."""
    rows = answer if isinstance(answer, list) else [answer]
    for row in rows:
        if isinstance(row, dict) and str(row.get("id")) == order_id:
            return row
    return None
