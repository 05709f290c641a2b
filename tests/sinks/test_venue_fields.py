"""The venue fields of issue 11 reach the database: a fill's ``exec_kind``, an order's trigger."""

from __future__ import annotations

from sqlalchemy import select

from factories import fill
from fullon_account_service.contract import ExecKind, OrderStatus, OrderUpdate, Side, TradeFill
from fullon_account_service.sinks.accounts import KnownAccounts
from fullon_account_service.sinks.orm_sink import OrmSink
from fullon_account_service.storage.db.models import Order, Trade
from sink_samples import Db, deliveries, envelope


def _fill(trade_id: str, kind: ExecKind | None) -> TradeFill:
    return fill(
        trade_id,
        ex_order_id=f"o-{trade_id}",
        symbol="BTC/USDT:USDT",
        price=50_000.0,
        volume=0.01,
        exec_kind=kind,
    )


async def test_exec_kind_and_trigger_price_are_stored(db: Db) -> None:
    stop = OrderUpdate(
        ex_order_id="o-stop",
        symbol="BTC/USDT:USDT",
        side=Side.SELL,
        order_type="stop",
        status=OrderStatus.OPEN,
        volume=0.01,
        trigger_price=48_500.0,
        protection_price=46_075.0,
        updated_ms=1_700_000_000_000,
    )
    payloads = [_fill("t-adl", ExecKind.ADL), _fill("t-plain", None), stop]
    await OrmSink(db.factory, KnownAccounts(db.factory)).handle(deliveries([envelope(p) for p in payloads]))
    async with db.factory() as session:
        kinds = {t.ex_trade_id: t.exec_kind for t in (await session.scalars(select(Trade))).all()}
        order = (await session.scalars(select(Order).where(Order.ex_order_id == "o-stop"))).one()
    assert kinds == {"t-adl": "adl", "t-plain": None}
    assert (order.order_type, order.trigger_price, order.price) == ("stop", 48_500.0, None)
