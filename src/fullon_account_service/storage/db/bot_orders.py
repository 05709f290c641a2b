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

Almost no version names a bot's row, so one statement per batch first looks for the bot rows any
of the batch's client order ids could match (an index range over the accounts' rows without
``ex_order_id``), and only the versions that found one run the adoption ``UPDATE``, which decides
as before. A bot row committed between the two statements is missed by this batch, as it would be
if it had been committed just after the ``UPDATE``: the bot's insert and the venue's event race
either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, String, Table, Update, bindparam, cast, exists, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
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


_ADOPT = _adopt_statement()
"""Built once; executed with one parameter set per version that carries a client order id."""


async def adopt_bot_rows(session: AsyncSession, records: Sequence[OrderRecord]) -> None:
    """Let the versions that name a bot's row adopt it (before the batch's upsert)."""
    params = _adoption_params(records)
    if params:
        params = await _with_candidates(session, params)
    if params:
        await session.execute(_ADOPT, params)


_PG_CANDIDATES = text(
    "SELECT ex_id, side, client_order_id, CAST(order_id AS VARCHAR) FROM orders "
    "WHERE ex_id = ANY(CAST(:ex_ids AS INTEGER[])) AND ex_order_id IS NULL "
    "AND (client_order_id = ANY(CAST(:client_ids AS VARCHAR[])) "
    "OR CAST(order_id AS VARCHAR) = ANY(CAST(:client_ids AS VARCHAR[])))"
)
"""Constant text whatever the batch (an ``IN`` list would make a statement per length, each
prepared again by asyncpg: one more round trip per batch)."""


def _candidates_statement(ex_ids: list[int], client_ids: list[str]) -> Select[Any]:
    table = Order.__table__
    assert isinstance(table, Table)
    row_id = cast(table.c.order_id, String)
    return select(table.c.ex_id, table.c.side, table.c.client_order_id, row_id).where(
        table.c.ex_id.in_(ex_ids),
        table.c.ex_order_id.is_(None),
        or_(table.c.client_order_id.in_(client_ids), row_id.in_(client_ids)),
    )


async def _with_candidates(session: AsyncSession, params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parameter sets for which some bot row has the same account, side and client order id
    (its ``client_order_id`` or its ``order_id`` in decimal): ``_ADOPT`` finds nothing for the others."""
    ex_ids = sorted({p["b_ex_id"] for p in params})
    client_ids = sorted({p["b_client_order_id"] for p in params})
    if session.get_bind().dialect.name == "postgresql":
        result = await session.execute(_PG_CANDIDATES, {"ex_ids": ex_ids, "client_ids": client_ids})
    else:
        result = await session.execute(_candidates_statement(ex_ids, client_ids))
    named: set[tuple[int, str, str]] = set()
    for ex_id, side, client_order_id, order_id in result:
        named.update((ex_id, side, client_id) for client_id in (client_order_id, order_id) if client_id)
    return [p for p in params if (p["b_ex_id"], p["b_side"], p["b_client_order_id"]) in named]


def _adoption_params(records: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    """The parameters of ``_ADOPT`` for the versions that may name a bot's row."""
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
