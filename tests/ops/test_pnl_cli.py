"""``fullon-account pnl``: realised PnL from stored trades with the ledger's funding and liquidation
charges beside it, per currency, drawn to a PNG."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from ops_helpers import invoke_async, run_cli
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.reports import pnl as pnl_report
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.storage.db.repositories.trades import TradeRepository

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
T0 = 1_700_000_000_000


def trade(n: int, side: str, volume: float, price: float, symbol: str = "BTC/USD", ex_id: int = 7) -> Fill:
    return Fill(
        ex_id=ex_id,
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
        fee_currency=symbol.split("/")[1].split(":")[0],
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


async def store(factory: async_sessionmaker[AsyncSession], trades: list[Fill]) -> None:
    async with factory() as session:
        assert await TradeRepository(session).save_trades(trades) == len(trades)
        await session.commit()


async def test_pnl_totals_per_currency_and_plots_one_line_per_symbol(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """USD, EUR and USDT are never added up: one total each, one plot axis each."""
    await store(
        session_factory,
        [
            trade(1, "buy", 1.0, 100.0, ex_id=8),
            trade(2, "sell", 1.0, 110.0, ex_id=8),  # +10 USD
            trade(3, "buy", 2.0, 50.0, "ETH/EUR", ex_id=8),
            trade(4, "sell", 2.0, 47.0, "ETH/EUR", ex_id=8),  # -6 EUR
            trade(5, "buy", 1.0, 20.0, "SOL/USDT:USDT", ex_id=8),
            trade(6, "sell", 1.0, 27.0, "SOL/USDT:USDT", ex_id=8),  # +7 USDT
            trade(7, "buy", 1.0, 10.0, "XRP/USDT:USDT", ex_id=8),
            trade(8, "sell", 1.0, 11.0, "XRP/USDT:USDT", ex_id=8),  # +1 USDT
        ],
    )
    drawn: list[tuple[str, list[str]]] = []
    from matplotlib.figure import Figure

    real_savefig = Figure.savefig

    def record(fig: Figure, *args: object, **kwargs: object) -> None:
        for ax in fig.axes:
            drawn.append((ax.get_ylabel(), sorted(str(line.get_label()) for line in ax.get_lines()[:-1])))
        real_savefig(fig, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", record)
    out = tmp_path / "pnl.png"
    env = {"DATABASE_URL": database_url, "ACCOUNT_DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    result = await invoke_async(["pnl", "--ex-id", "8", "--plot", str(out)], env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    total = {line.split()[2]: line for line in lines if line.strip("│ ").startswith("total")}
    assert set(total) == {"EUR", "USD", "USDT"}, result.stdout
    assert "-6.00000000" in total["EUR"] and "10.00000000" in total["USD"] and "8.00000000" in total["USDT"]
    assert "12.00000000" not in result.stdout  # 10 - 6 + 8: never added across currencies
    assert drawn == [
        ("realised PnL (EUR)", ["ETH/EUR"]),
        ("realised PnL (USD)", ["BTC/USD"]),
        ("realised PnL (USDT)", ["SOL/USDT:USDT", "XRP/USDT:USDT"]),
    ]
    assert str(out.resolve()) in result.stdout
    plotted = tmp_path / "process.png"
    code, printed, err = await run_cli(["pnl", "--ex-id", "8", "--plot", "process.png"], env, cwd=tmp_path)
    assert code == 0, err
    assert plotted.read_bytes().startswith(PNG_MAGIC) and str(plotted.resolve()) in printed
    assert {line.split()[2] for line in printed.splitlines() if line.strip("│ ").startswith("total")} == {
        "EUR",
        "USD",
        "USDT",
    }, "as an operator runs it, in a process of its own"


def test_quote_currency_of_each_symbol_form() -> None:
    assert pnl_report.quote_currency("BTC/USD") == "USD"
    assert pnl_report.quote_currency("BTC/USDT:USDT") == "USDT"
    assert pnl_report.quote_currency("BTCUSD") == pnl_report.UNKNOWN_CURRENCY


async def test_unknown_ex_id_exits_2_with_a_message(cli_env: dict[str, str]) -> None:
    add = ["accounts", "add", "--exchange", "kraken", "--name", "main", "--user", "pnl@example.com"]
    assert (await invoke_async(add, cli_env)).exit_code == 0
    code, out, err = await run_cli(["pnl", "--ex-id", "424242"], cli_env)
    assert code == 2, out + err
    assert "no account with ex_id 424242" in err


def ledger(
    n: int, amount: float, symbol: str | None, reason: str = "funding", **fields: object
) -> LedgerRecord:
    values: dict[str, object] = {
        "ex_id": 9,
        "uid": 1,
        "exchange": "bybit",
        "ex_ledger_id": f"L{n}",
        "currency": "USDT",
        "amount": amount,
        "reason": reason,
        "time_ms": T0 + n * 60_000,
        "symbol": symbol,
    }
    values.update(fields)
    return LedgerRecord(**values)  # type: ignore[arg-type]


def table_rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    """The printed table's rows keyed by (symbol, currency), cells stripped."""
    found = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 9 and cells[0] and cells[0] != "symbol":
            found[(cells[0], cells[1])] = cells[2:]
    return found


async def test_pnl_shows_funding_and_liquidation_beside_trading_pnl_per_currency(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    """Funding in the quote joins the symbol's row; an inverse perp's funding in BTC gets its own."""
    fee = 0.5
    await store(
        session_factory,
        [
            msgspec.structs.replace(trade(1, "buy", 1.0, 100.0, "BTC/USDT:USDT", ex_id=9), fee=fee),
            msgspec.structs.replace(trade(2, "sell", 1.0, 110.0, "BTC/USDT:USDT", ex_id=9), fee=fee),
        ],
    )
    async with session_factory() as session:
        entries = [
            ledger(3, -0.25, "BTC/USDT:USDT"),
            ledger(4, 0.75, "BTC/USDT:USDT", fee=0.05),
            ledger(5, -2.0, "BTC/USDT:USDT", "liquidation"),
            ledger(6, -0.001, "BTC/USD:BTC", currency="BTC"),
            ledger(7, 100.0, None, "deposit"),  # not a charge on a symbol: not in the PnL
            ledger(8, -0.1, None),
        ]
        assert await LedgerRepository(session).save_entries(entries) == len(entries)
        await session.commit()
    env = {"DATABASE_URL": database_url, "ACCOUNT_DATA_DIR": str(tmp_path), "COLUMNS": "250"}
    result = await invoke_async(["pnl", "--ex-id", "9"], env)
    assert result.exit_code == 0, result.output
    rows = table_rows(result.stdout)
    # trades, volume, trading PnL, fees, funding, liquidation, net
    assert rows[("BTC/USDT:USDT", "USDT")] == [
        "2",
        "2",
        "9.00000000",
        "1",
        "0.45000000",
        "-2.00000000",
        "7.45000000",
    ]
    assert rows[("(no symbol)", "USDT")][4:] == ["-0.10000000", "0.00000000", "-0.10000000"]
    assert rows[("total USDT", "USDT")][2:] == ["9.00000000", "1", "0.35000000", "-2.00000000", "7.35000000"]
    assert rows[("BTC/USD:BTC", "BTC")][2:] == ["0.00000000", "0", "-0.00100000", "0.00000000", "-0.00100000"]
    assert rows[("total BTC", "BTC")][-1] == "-0.00100000"
    assert set(rows) == {
        ("BTC/USDT:USDT", "USDT"),
        ("(no symbol)", "USDT"),
        ("total USDT", "USDT"),
        ("BTC/USD:BTC", "BTC"),
        ("total BTC", "BTC"),
    }


async def test_pnl_of_an_account_with_only_ledger_entries(
    session_factory: async_sessionmaker[AsyncSession], database_url: str, tmp_path: Path
) -> None:
    async with session_factory() as session:
        await LedgerRepository(session).save_entries([ledger(1, -0.3, "ETH/USDT:USDT", ex_id=10)])
        await session.commit()
    env = {"DATABASE_URL": database_url, "ACCOUNT_DATA_DIR": str(tmp_path), "COLUMNS": "250"}
    result = await invoke_async(["pnl", "--ex-id", "10", "--plot", str(tmp_path / "p.png")], env)
    assert result.exit_code == 0, result.output
    assert table_rows(result.stdout)[("ETH/USDT:USDT", "USDT")][-1] == "-0.30000000"
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_MAGIC)
