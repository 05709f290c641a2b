"""Accounts whose currencies sit in several wallets, published as one balance per currency.

Hyperliquid keeps a perp account (``clearinghouseState``: USDC) and a spot wallet
(``spotClearinghouseState``: USDC, HYPE, ...) apart; fullon stores one balance per currency. The
venue adapter names the wallets (``Quirks.wallets``) and which one a read came from. We
publish what the account holds: per currency the sum of its wallets (total, used and free added
up), so a read of one wallet never hides the other. Nothing is published until every wallet has
been read once: before that a currency's sum would leave out what the unread wallet holds (USDC
sits in both), a total that looks right and is not, in the cache and as a balance anchor.

For the same reason a wallet that something moved unseen (``moved``: a spot fill, while only the
perp account is pushed) holds the sums back until a read of it that began after the move; that
read publishes the whole account. Each read says when it began by a ``ticket`` taken before its
request: an answer the venue wrote before the move must not end the hold.
"""

from __future__ import annotations

from collections.abc import Mapping

from fullon_account_service.contract import CurrencyBalance


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


class Wallets:
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._parts: dict[str, dict[str, CurrencyBalance]] = {}
        self._moves = 0
        self._moved: dict[str, int] = {}
        """Wallet -> the number of the last move not read since."""
        self._held = False

    def ticket(self) -> int:
        """Taken before a read's request: the moves the read's answer can include."""
        return self._moves

    def moved(self, wallet: str) -> None:
        """Something changed ``wallet`` that no read has reported yet."""
        self._moves += 1
        self._moved[wallet] = self._moves

    def update(
        self,
        wallet: str,
        rows: Mapping[str, CurrencyBalance],
        *,
        whole: bool = True,
        ticket: int | None = None,
    ) -> tuple[dict[str, CurrencyBalance], bool] | None:
        """Record ``wallet``'s rows (all of it when ``whole``, else only changed currencies) and
        return the merged rows of the currencies touched, and whether they are the whole account;
        None while a wallet has not been read yet, or not since it moved. ``ticket``: the read's
        (``None``: a push, which is read as it arrives)."""
        part = self._parts.get(wallet, {}) if not whole else {}
        self._parts[wallet] = {**part, **rows}
        move = self._moved.get(wallet)
        if move is not None and (ticket is None or ticket >= move):
            del self._moved[wallet]
        if self._moved or not all(name in self._parts for name in self.names):
            self._held = True
            return None
        whole, self._held = whole or self._held, False
        touched = set(rows) if not whole else set().union(*(p.keys() for p in self._parts.values()))
        merged: dict[str, CurrencyBalance] = {}
        for currency in sorted(touched):
            found = [p[currency] for p in self._parts.values() if currency in p]
            total, free, used = found[0].total, found[0].free, found[0].used
            for b in found[1:]:
                total, free, used = _add(total, b.total), _add(free, b.free), _add(used, b.used)
            merged[currency] = CurrencyBalance(total=total, free=free, used=used)
        return merged, whole
