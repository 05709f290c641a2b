"""Hyperliquid: what ``/info`` and ``/ws`` rows mean where ccxt reads them otherwise.

- Fees: a fill's ``fee`` is the total fee, inclusive of the optional ``builderFee``; ccxt adds
  ``builderFee`` to it a second time. We publish ``fee`` in ``feeToken``, named as the market
  names its base or quote where it is one of them (ccxt's spot codes map wrapped tokens).
- Liquidations: both sides of a liquidation's fill carry a ``liquidation`` object naming the
  account liquidated (``liquidatedUser``); the fill is marked ``liquidation`` only on that account
  (or when the object or the row names no account), not on the other side, whose order it filled.
- Order types: ``orderType`` (``Limit``, ``Market``, ``Stop Market``, ``Stop Limit``,
  ``Take Profit Market``, ``Take Profit Limit``); ``triggerPx`` is the trigger of ``isTrigger``
  orders. ``orderUpdates`` rows carry no type: the normaliser keeps the type learned before.
- A market order rests as an IOC limit at a slippage price (``limitPx``): that is its
  protection price, not a price it traded at.
- Balances: ``accountValue`` is equity (wallet + unrealised pnl) and WS ``free`` is
  ``withdrawable``. We publish total = accountValue - the positions' unrealised pnl (the wallet
  balance, like Bybit's walletBalance), used = totalMarginUsed, free = total - used, on REST and WS
  alike; a ``clearinghouseState`` message is the whole perp account.
- Wallets: the perp account (``clearinghouseState``, it has ``marginSummary``) and the spot
  wallet (``spotClearinghouseState``) are read apart and summed per currency (``wallets``).
- Funding (``userFunding``; the ``userFundings`` stream): ``usdc`` > 0 was received. The venue
  gives every funding row the zero hash, so its ledger id is ``<coin>:<time>`` (one payment per
  coin and funding time), the same on both channels.
- Ledger (``userNonFundingLedgerUpdates``, REST and stream): each ``delta.type`` read for its
  sign: ``deposit`` in, ``withdraw`` out (``fee`` on top); transfers and ``send`` out when our
  address is the sender (``user``), in otherwise; vault deposits out, vault withdrawals and
  distributions in; ``rewardsClaim`` a rebate. ``accountClassTransfer`` (perp <-> spot) moves
  nothing the summed wallets hold and is left out. A ``liquidation`` row moves nothing itself
  (its fills do): amount 0, the symbol of the first position it closed. The ledger id is the
  transaction ``hash``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fullon_account_service.contract import CurrencyBalance, ExecKind, LedgerReason
from fullon_account_service.errors import ContractError
from fullon_account_service.producers.fields import number, required_number, required_text
from fullon_account_service.producers.venues.adapter import CurrencyCode, WsBalance
from fullon_account_service.producers.venues.common import NotALedgerEntry, fee, nonzero, raw

_INWARD = {
    "deposit": LedgerReason.DEPOSIT,
    "vaultWithdraw": LedgerReason.TRANSFER_IN,
    "vaultDistribution": LedgerReason.TRANSFER_IN,
    "rewardsClaim": LedgerReason.REBATE,
    "spotGenesis": LedgerReason.DEPOSIT,
}
_OUTWARD = {
    "withdraw": LedgerReason.WITHDRAWAL,
    "vaultDeposit": LedgerReason.TRANSFER_OUT,
    "vaultCreate": LedgerReason.TRANSFER_OUT,
}
_BETWEEN_USERS = frozenset({"internalTransfer", "subAccountTransfer", "spotTransfer", "send"})
_TYPES = {
    "limit": "limit",
    "market": "market",
    "stop market": "stop",
    "stop limit": "stop_limit",
    "take profit market": "take_profit",
    "take profit limit": "take_profit_limit",
}


def _entry(info: Mapping[str, Any]) -> Mapping[str, Any]:
    order = info.get("order")
    return order if isinstance(order, dict) else info


def order_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    entry = _entry(info)
    changes: dict[str, Any] = {}
    raw_type = raw(entry.get("orderType"))
    if raw_type is not None:
        kind = _TYPES.get(raw_type.lower(), raw_type.lower().replace(" ", "_"))
        changes["type"] = kind
        if entry.get("isTrigger") is True:
            changes["triggerPrice"] = nonzero(entry.get("triggerPx"))
        if kind in ("market", "stop", "take_profit"):
            changes["protectionPrice"] = nonzero(entry.get("limitPx"))
            changes["price"] = None
    return changes


def trade_fixes(row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if _liquidated(row, info):
        changes["execKind"] = ExecKind.LIQUIDATION
    cost = raw(info.get("fee"))
    if cost is not None:
        changes.update(fee(cost, _fee_currency(raw(info.get("feeToken")), market)))
    return changes


def _fee_currency(token: str | None, market: Mapping[str, Any]) -> str | None:
    """``feeToken`` is the venue's token name, and ccxt names some spot tokens otherwise (the
    wrapped ``UBTC`` is ``BTC`` in ``BTC/USDC``): a fee in the market's own base or quote token is
    given the market's code, so the books see a base fee as one."""
    return None if token is None else _named_by(market, token) or token


def _named_by(market: Mapping[str, Any], token: str) -> str | None:
    """The code ``market`` gives ``token`` where it is the market's base or quote token."""
    if market.get("baseName") == token:
        return str(market.get("base") or token)
    if market.get("quoteId") == token:
        return str(market.get("quote") or token)
    return None


def _liquidated(row: Mapping[str, Any], info: Mapping[str, Any]) -> bool:
    terms = info.get("liquidation")
    if not isinstance(terms, dict):
        return False
    user, own = raw(terms.get("liquidatedUser")), raw(row.get("account"))
    return user is None or own is None or user.lower() == own.lower()


def _perp(state: Mapping[str, Any]) -> CurrencyBalance:
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


def ws_balance(
    balance: Mapping[str, Any],
    code: CurrencyCode,
    rest: Mapping[str, CurrencyBalance],
    markets: Mapping[str, Any],
) -> WsBalance:
    info = balance.get("info")
    if isinstance(info, dict):
        return {"USDC": _perp(info)}, True
    if isinstance(info, list):
        rows: dict[str, CurrencyBalance] = {}
        for item in info:
            if not isinstance(item, dict):
                raise ContractError("hyperliquid spot balance row is not an object")
            total, used = number(item, "total"), number(item, "hold")
            free = total - used if total is not None and used is not None and total >= used else None
            name = required_text(item, "coin")
            rows[_spot_code(name, markets) or code(name)] = CurrencyBalance(total=total, free=free, used=used)
        return rows, False
    raise ContractError("hyperliquid balance message without clearinghouseState or spotState")


def rest_balance(balance: Mapping[str, Any]) -> dict[str, CurrencyBalance] | None:
    info = balance.get("info")
    if isinstance(info, dict) and "marginSummary" in info:
        return {"USDC": _perp(info)}
    return None


def wallet_of(info: Any) -> str | None:
    return "perp" if isinstance(info, dict) and "marginSummary" in info else "spot"


def perp_symbol(markets: Mapping[str, Any], coin: str | None) -> str | None:
    """The perp market of a Hyperliquid ``coin`` name (``BTC``, or ``dex:COIN`` on a HIP-3 dex)."""
    if coin is None:
        return None
    for symbol, market in markets.items():
        if isinstance(market, Mapping) and market.get("swap") and market.get("baseName") == coin:
            return str(symbol)
    raise ContractError(f"unknown hyperliquid perp coin {coin!r}")


def ledger_fixes(
    row: Mapping[str, Any], info: Mapping[str, Any], markets: Mapping[str, Any]
) -> dict[str, Any]:
    found = info.get("delta")
    delta: dict[str, Any] = found if isinstance(found, dict) else dict(info)
    kind = str(delta.get("type") or ("funding" if "fundingRate" in delta else ""))
    time = required_number(dict(info), "time")
    if kind == "funding":
        coin = raw(delta.get("coin"))
        return {
            "id": f"{coin}:{int(time)}",
            "currency": "USDC",
            "signedAmount": required_number(delta, "usdc", signed=True),
            "reason": LedgerReason.FUNDING,
            "rawType": "funding",
            "symbol": perp_symbol(markets, coin),
            "timestamp": time,
            "fee": None,
        }
    if kind == "accountClassTransfer":
        raise NotALedgerEntry("hyperliquid perp <-> spot transfer moves nothing the summed wallets hold")
    changes: dict[str, Any] = {
        "id": required_text(dict(info), "hash"),
        "currency": _currency(delta, markets),
        "reason": LedgerReason.OTHER,
        "rawType": kind or None,
        "timestamp": time,
        "symbol": None,
        "fee": _fee(delta, markets),
    }
    if kind == "liquidation":
        positions = delta.get("liquidatedPositions")
        first = positions[0] if isinstance(positions, list) and positions else {}
        coin = raw(first.get("coin")) if isinstance(first, dict) else None
        changes.update(signedAmount=0.0, reason=LedgerReason.LIQUIDATION, symbol=perp_symbol(markets, coin))
        return changes
    size = _size(delta)
    if kind in _INWARD:
        changes.update(signedAmount=size, reason=_INWARD[kind])
    elif kind in _OUTWARD:
        changes.update(signedAmount=-size, reason=_OUTWARD[kind])
    elif kind in _BETWEEN_USERS:
        outward = str(delta.get("user") or "").lower() == str(row.get("account") or "").lower()
        reason = LedgerReason.TRANSFER_OUT if outward else LedgerReason.TRANSFER_IN
        changes.update(signedAmount=-size if outward else size, reason=reason)
    elif kind == "cStakingTransfer":
        inward = delta.get("isDeposit") is not True
        reason = LedgerReason.TRANSFER_IN if inward else LedgerReason.TRANSFER_OUT
        changes.update(signedAmount=size if inward else -size, reason=reason)
    else:
        changes["signedAmount"] = size
    return changes


def _size(delta: Mapping[str, Any]) -> float:
    """The (unsigned) size of a ledger update: ``netWithdrawnUsd``, ``usdc`` or ``amount``."""
    for name in ("netWithdrawnUsd", "usdc", "amount"):
        value = number(dict(delta), name, signed=True)
        if value is not None:
            return abs(value)
    raise ContractError("hyperliquid ledger update without an amount")


def _currency(delta: Mapping[str, Any], markets: Mapping[str, Any]) -> str:
    token = raw(delta.get("token"))
    if token is None:
        return "USDC"
    name = token.split(":", 1)[0]
    return _spot_code(name, markets) or name


def _spot_code(token: str, markets: Mapping[str, Any]) -> str | None:
    """The code ccxt's spot markets give a token (the wrapped ``UBTC`` is ``BTC``), as its REST
    spot balance names it; None where no spot market lists it."""
    for market in markets.values():
        if isinstance(market, Mapping) and market.get("spot") and (named := _named_by(market, token)):
            return named
    return None


def _fee(delta: Mapping[str, Any], markets: Mapping[str, Any]) -> dict[str, Any] | None:
    cost = raw(delta.get("fee"))
    if cost is None:
        return None
    token = raw(delta.get("feeToken"))
    return {
        "cost": cost,
        "currency": (_spot_code(token, markets) or token) if token else _currency(delta, markets),
    }


def ws_ledger(message: Mapping[str, Any], code: CurrencyCode) -> list[dict[str, Any]]:
    """``userFundings`` (flat funding rows) and ``userNonFundingLedgerUpdates`` (the REST rows)."""
    data = message.get("data")
    if not isinstance(data, dict):
        return []
    channel = message.get("channel")
    if channel == "userFundings":
        rows = data.get("fundings")
    elif channel == "userNonFundingLedgerUpdates":
        rows = data.get("nonFundingLedgerUpdates")
    else:
        return []
    user = data.get("user")
    listed = rows if isinstance(rows, list) else []
    return [{"info": r, "account": user} for r in listed if isinstance(r, dict)]
