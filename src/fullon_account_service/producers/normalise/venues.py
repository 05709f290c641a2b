"""Where ccxt's unified WebSocket structures mean something else than REST: one reader per venue.

Each reader takes ccxt's WebSocket balance (whose ``info`` is the raw message part) and returns the
currencies *this message* carried, with every field meaning what the REST snapshot means
(see docs/fields.md), plus whether the set is the whole account (``complete``):

- kraken: the ``balances`` channel sends the total only. free/used are taken from the last REST
  snapshot when its total is the same number (nothing moved since), otherwise left unknown.
- bybit: WS ``total`` is equity; we publish ``walletBalance`` like REST, and recompute free/used
  with the REST rule (availableToWithdraw, else locked + position IM + order IM).
- hyperliquid: ``accountValue`` is equity (wallet + unrealised pnl) and WS ``free`` is
  ``withdrawable``. We publish total = accountValue - the positions' unrealised pnl (the wallet
  balance, like Bybit's walletBalance), used = totalMarginUsed, free = total - used, on REST and WS
  alike; a ``clearinghouseState`` message is the whole perp account.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.normalise.fields import number, required_text
from fullon_account_service.producers.normalise.unified import balance_rows

CurrencyCode = Callable[[str], str]
WsBalance = tuple[dict[str, CurrencyBalance], bool]


def _kraken(balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]) -> WsBalance:
    info = balance.get("info")
    data = info.get("data") if isinstance(info, dict) else None
    if not isinstance(data, list):
        raise ContractError("kraken balances message without a data list")
    rows: dict[str, CurrencyBalance] = {}
    for item in data:
        if not isinstance(item, dict):
            raise ContractError("kraken balances row is not an object")
        currency = code(required_text(item, "asset"))
        total = number(item, "balance")
        known = rest.get(currency)
        if known is not None and total is not None and known.total == total:
            rows[currency] = CurrencyBalance(total=total, free=known.free, used=known.used)
        else:
            rows[currency] = CurrencyBalance(total=total)
    return rows, False


def bybit_coin(row: dict[str, Any]) -> CurrencyBalance:
    """One Bybit coin row with the REST meaning of each field (shared by REST checks and WS)."""
    total = number(row, "walletBalance")
    free = number(row, "availableToWithdraw")
    if free is None:
        free = number(row, "free")
    if free is not None:
        used = total - free if total is not None and total >= free else None
        return CurrencyBalance(total=total, free=free, used=used)
    used = sum(number(row, name) or 0.0 for name in ("locked", "totalPositionIM", "totalOrderIM"))
    if total is None:
        return CurrencyBalance(used=used)
    return CurrencyBalance(total=total, free=total - used if total >= used else None, used=used)


def _bybit(balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]) -> WsBalance:
    info = balance.get("info")
    if not isinstance(info, list):
        raise ContractError("bybit wallet message without a data list")
    rows: dict[str, CurrencyBalance] = {}
    for account in info:
        coins = account.get("coin") if isinstance(account, dict) else None
        if not isinstance(coins, list):
            raise ContractError("bybit wallet entry without a coin list")
        for coin in coins:
            if not isinstance(coin, dict):
                raise ContractError("bybit coin row is not an object")
            rows[code(required_text(coin, "coin"))] = bybit_coin(coin)
    return rows, False


def _hyperliquid_perp(state: Mapping[str, Any]) -> CurrencyBalance:
    """USDC of a ``clearinghouseState``: wallet = accountValue - unrealised pnl of the positions."""
    summary = state.get("marginSummary")
    if not isinstance(summary, dict):
        raise ContractError("hyperliquid clearinghouseState without marginSummary")
    equity = number(summary, "accountValue", signed=True)
    used = number(summary, "totalMarginUsed")
    upnl = 0.0
    for item in state.get("assetPositions") or []:
        position = item.get("position") if isinstance(item, dict) else None
        if not isinstance(position, dict):
            raise ContractError("hyperliquid assetPositions row without position")
        upnl += number(position, "unrealizedPnl", signed=True) or 0.0
    total = equity - upnl if equity is not None else None
    if total is not None and total < 0:
        raise ContractError(f"hyperliquid wallet balance {total} is negative")
    free = total - used if total is not None and used is not None and total >= used else None
    return CurrencyBalance(total=total, free=free, used=used)


def _hyperliquid(
    balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]
) -> WsBalance:
    info = balance.get("info")
    if isinstance(info, dict):
        return {"USDC": _hyperliquid_perp(info)}, True
    if isinstance(info, list):
        rows: dict[str, CurrencyBalance] = {}
        for item in info:
            if not isinstance(item, dict):
                raise ContractError("hyperliquid spot balance row is not an object")
            total, used = number(item, "total"), number(item, "hold")
            free = total - used if total is not None and used is not None and total >= used else None
            rows[code(required_text(item, "coin"))] = CurrencyBalance(total=total, free=free, used=used)
        return rows, False
    raise ContractError("hyperliquid balance message without clearinghouseState or spotState")


def rest_balance(venue: str, balance: Mapping[str, Any]) -> dict[str, CurrencyBalance] | None:
    """REST balances where ccxt's unified numbers mean something else than ours, else ``None``."""
    info = balance.get("info")
    if venue == "hyperliquid" and isinstance(info, dict) and "marginSummary" in info:
        return {"USDC": _hyperliquid_perp(info)}
    return None


def _unified(
    balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]
) -> WsBalance:
    rows, rejected = balance_rows(balance)
    if rejected:
        raise ContractError("; ".join(rejected))
    return rows, False


_READERS = {"kraken": _kraken, "bybit": _bybit, "hyperliquid": _hyperliquid}

# Whether ccxt's watch_positions result is the whole set of open positions (True) or only the
# rows of the message (False): hyperliquid pushes the full clearinghouseState, bybit changed rows.
WS_POSITIONS_COMPLETE = {"hyperliquid": True}


def ws_balance(
    venue: str, balance: Mapping[str, Any], code: CurrencyCode, rest: Mapping[str, CurrencyBalance]
) -> WsBalance:
    return _READERS.get(venue, _unified)(balance, code, rest)
