"""Orders a fullon bot wrote before the venue knew them: adopted by the venue's events.

A fullon bot inserts its ``orders`` row before placing the order, so the row has no
``ex_order_id`` (fullon-compat: nullable, no key). When the venue's events for that order arrive
they carry the venue's id; inserted as they are, they would make a second row and leave the bot's
row pending forever. Before the batch's upsert, a version that carries a client order id gives its
``ex_order_id`` to the bot's row it names, and the upsert then lands on that row (keeping the
bot's ``bot_id`` and ``reason``, see ``ledger.orders``).

The match: same ``ex_id`` and ``side``, ``ex_order_id`` still NULL, and the venue's client order
id equal to the row's ``client_order_id`` or to its ``order_id`` in decimal (a bot that sent its
own row id as the client order id). The oldest such row is taken. fullon's schema has no other
field the venue echoes, so a bot row whose order carried no client order id, or another one, is
not matched: the venue's order is stored as its own row and the bot's row is left as the bot wrote
it (nothing fails, nothing is lost). A venue id already stored on another row is never given to a
bot row (the unique key stays whole).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, Table, Update, bindparam, cast, exists, func, or_, select, update
from sqlalchemy.sql.elements import BindParameter

from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.storage.db.models import Order


def _adopt_statement() -> Update:
    table = Order.__table__
    assert isinstance(table, Table)
    bot, taken = table.alias("bot"), table.alias("taken")
    client_id: BindParameter[str] = bindparam("b_client_order_id")
    oldest_bot_row = (
        select(func.min(bot.c.order_id))
        .where(
            bot.c.ex_id == bindparam("b_ex_id"),
            bot.c.ex_order_id.is_(None),
            bot.c.side == bindparam("b_side"),
            or_(bot.c.client_order_id == client_id, cast(bot.c.order_id, String) == client_id),
        )
        .scalar_subquery()
    )
    already_stored = exists().where(
        taken.c.ex_id == bindparam("b_ex_id"), taken.c.ex_order_id == bindparam("b_ex_order_id")
    )
    return (
        update(table)
        .where(table.c.order_id == oldest_bot_row, ~already_stored)
        .values(ex_order_id=bindparam("b_ex_order_id"))
    )


ADOPT = _adopt_statement()
"""Built once; executed with one parameter set per version that carries a client order id."""


def adoption_params(records: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    """The parameters of ``ADOPT`` for the versions that may name a bot's row."""
    return [
        {
            "b_ex_id": r.ex_id,
            "b_side": r.side,
            "b_client_order_id": r.client_order_id,
            "b_ex_order_id": r.ex_order_id,
        }
        for r in records
        if r.client_order_id
    ]
