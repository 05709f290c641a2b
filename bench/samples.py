"""Realistic envelopes of every kind, shared by the benchmarks."""

from __future__ import annotations

from fullon_account_service.contract import (
    KINDS,
    BalanceSnapshot,
    CurrencyBalance,
    Envelope,
    Liquidity,
    OrderStatus,
    OrderUpdate,
    Payload,
    Position,
    PositionSide,
    PositionSnapshot,
    Side,
    Source,
    TradeFill,
    envelope_of,
)

T0 = 1_760_000_000_000


def payload(i: int, kind: str) -> Payload:
    if kind == "trade":
        return TradeFill(
            ex_trade_id=f"TX{i:08d}-ABCDE",
            ex_order_id=f"OQ{i // 3:08d}-FGHIJ",
            symbol="BTC/USDT:USDT",
            side=Side.BUY if i % 2 else Side.SELL,
            price=64_123.5 + i % 100,
            volume=0.0125,
            cost=801.54375,
            time_ms=T0 + i,
            fee=0.48,
            fee_currency="USDT",
            liquidity=Liquidity.TAKER,
            leverage=5.0,
            order_type="limit",
        )
    if kind == "order":
        return OrderUpdate(
            ex_order_id=f"OQ{i:08d}-FGHIJ",
            client_order_id=f"fullon-{i}",
            symbol="ETH/USDT:USDT",
            side=Side.BUY,
            order_type="limit",
            status=OrderStatus.OPEN,
            price=3_100.25,
            volume=1.5,
            filled=0.5,
            remaining=1.0,
            average=3_100.25,
            fee=0.9,
            fee_currency="USDT",
            leverage=3.0,
            created_ms=T0 + i,
            updated_ms=T0 + i + 5,
        )
    if kind == "balance":
        return BalanceSnapshot(
            balances={
                code: CurrencyBalance(total=1000.0 + i, free=900.0, used=100.0 + i)
                for code in ("USDT", "BTC", "ETH", "SOL", "USDC")
            }
        )
    return PositionSnapshot(
        positions=[
            Position(
                symbol=symbol,
                side=PositionSide.LONG,
                volume=2.0 + i % 7,
                entry_price=64_000.0,
                mark_price=64_100.0,
                leverage=5.0,
                unrealized_pnl=200.0 - i % 13,
                liquidation_price=51_000.0,
                margin=25_600.0,
            )
            for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT")
        ]
    )


def wrap(body: Payload, ms: int, *, ex_id: int = 42, uid: int = 7, received_after_ms: int = 3) -> Envelope:
    """``body`` as a Bybit producer publishes it, seen ``received_after_ms`` after ``ms``."""
    return envelope_of(
        body,
        ex_id=ex_id,
        uid=uid,
        exchange="bybit",
        source=Source.WS,
        received_ms=ms + received_after_ms,
        exchange_ms=ms,
    )


def envelope(i: int, kind: str) -> Envelope:
    return wrap(payload(i, kind), T0 + i)


def mixed(n: int) -> list[Envelope]:
    return [envelope(i, KINDS[i % len(KINDS)]) for i in range(n)]
