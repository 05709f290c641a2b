"""``fullon-account pnl --plot``: realised PnL from stored trades, drawn to a PNG."""

from __future__ import annotations

from pathlib import Path

from ops_helpers import invoke_async
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.storage.db.repositories.trades import TradeRecord, TradeRepository

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000_000


def trade(n: int, side: str, volume: float, price: float, symbol: str = "BTC/USD") -> TradeRecord:
    return TradeRecord(
        ex_id=7,
        uid=1,
        exchange="kraken",
        ex_trade_id=f"T{n}",
        ex_order_id=f"O{n}",
        symbol=symbol,
        side=side,
        volume=volume,
        price=price,
        cost=volume * price,
        time_ms=T0 + n * 60_000,
        fee=0.0,
        fee_currency="USD",
    )


async def test_pnl_plot_writes_a_png(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    trades = [
        trade(1, "buy", 1.0, 100.0),
        trade(2, "sell", 0.5, 110.0),
        trade(3, "sell", 0.5, 90.0),
        trade(4, "buy", 10.0, 2.0, "XRP/USD"),
        trade(5, "sell", 10.0, 2.5, "XRP/USD"),
    ]
    async with session_factory() as session:
        assert await TradeRepository(session).save_trades(trades) == len(trades)
        await session.commit()
    out = tmp_path / "pnl.png"
    env = {"DATABASE_URL": database_url, "ACCOUNT_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    result = await invoke_async(["pnl", "--ex-id", "7", "--plot", str(out)], {**env, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert out.stat().st_size > 1000
    assert "BTC/USD" in result.stdout and "XRP/USD" in result.stdout
    assert "5.00000000" in result.stdout
