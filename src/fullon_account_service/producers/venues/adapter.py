"""What the shared producer machinery asks of a venue, one role module per kind of question.

Each venue folder (``producers/venues/<exchange id>/``) answers these from the same file roles:

- ``history.py``: how REST history is paged (open orders, closed orders, fills, ledger);
- ``reads.py``: which REST reads cover the whole account and how one order is looked up by id;
- ``normalise.py``: what the venue's raw rows mean where ccxt's unified reading gets them wrong;
- ``capabilities.py``: the static quirks (wallets, what a WebSocket message covers).

Each role is a ``Protocol`` the module itself satisfies (mypy checks every folder's modules against
them), so a folder's ``__init__`` is one line: ``VenueAdapter(name, capabilities, history,
normalise, reads)``. A role a venue has nothing special for takes the ``generic`` module's
functions. ``registry`` maps exchange ids to adapters, and any id it does not list gets the
``generic`` one (plain ccxt, one call per read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fullon_account_service.contract import CurrencyBalance
from fullon_account_service.producers.history import has_call

if TYPE_CHECKING:
    from fullon_account_service.producers.calls import VenueCalls
    from fullon_account_service.producers.history import Row, SpanRead
    from fullon_account_service.producers.open_orders import TrackedOrder

CurrencyCode = Callable[[str], str]
WsBalance = tuple[dict[str, CurrencyBalance], bool]
Fix = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
"""A correction of one order or fill: ``(row, info, market)`` -> the keys it corrects."""
LedgerFix = Callable[[Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
"""The reading of one ledger row: ``(row, info, markets)`` -> the ledger keys (see
``Normalise.ledger_fixes``)."""


@dataclass(frozen=True, slots=True)
class Quirks:
    """Static facts of a venue (``capabilities.py``); the defaults are plain ccxt's."""

    wallets: tuple[str, ...] = ()
    """Wallets whose balances are summed per currency (empty: one wallet)."""
    unpushed_wallet: str | None = None
    """The wallet of ``wallets`` that no stream read here reports: a spot fill or order, or a
    ledger row other than funding, over WebSocket (or a spot fill new to a REST read) holds the
    sums back until a REST read of it (``Wallets.moved``)."""
    ws_positions_complete: bool = False
    """A ``watch_positions`` result is every open position, not only the rows that changed."""
    split_only_over_rest: bool = False
    """WebSocket balances cannot keep free/used right: an order update asks for a REST balance."""
    ledger_calls: tuple[str, ...] = ("fetchLedger",)
    """The ccxt calls (``has`` keys) the adapter's ledger read uses, each only where ``has``
    lists it; the account has a ledger when any of them is listed."""
    ledger_stream: bool = False
    """The venue pushes ledger rows on a private stream the adapter reads (``ws_ledger``)."""
    ws_orders_report_fills: bool = False
    """The order stream pushes every fill's effect on its order (the partial fills included), so
    a fill over WebSocket needs no REST read of the open orders while that stream is up."""

    def has_ledger(self, has: Mapping[str, Any]) -> bool:
        """The account has a ledger to read: ccxt's ``has`` lists one of the ledger calls."""
        return any(has_call(has, call) for call in self.ledger_calls)


class Capabilities(Protocol):
    """``capabilities.py``."""

    QUIRKS: Quirks


class History(Protocol):
    """``history.py``: each read covers ``[since, until]`` (``until`` ``None``: up to ``now``)
    within ``max_pages`` calls, hands each page to ``on_page`` before it asks for the next, and
    says where a cut read left its gap (``HistoryRead``)."""

    async def fetch_open_orders(self, session: VenueCalls) -> list[Row]: ...

    @property
    def fetch_closed_orders(self) -> SpanRead: ...

    @property
    def fetch_fills(self) -> SpanRead: ...

    @property
    def fetch_ledger(self) -> SpanRead:
        """Ledger rows (funding, deposits, transfers...); complete, with no page, where the venue
        has no ledger call (``Quirks.ledger_calls``)."""
        ...

    @property
    def fetch_pending_transfers(self) -> SpanRead:
        """The deposit and withdrawal records from ``since`` (the oldest one seen pending), where
        the venue lists them before they move the balance; complete, with no page, elsewhere."""
        ...


class Reads(Protocol):
    """``reads.py``: the ``params`` of each ``fetch_balance`` / ``fetch_positions`` call that
    together cover the account, and the venue's row for one order id (``None``: unknown)."""

    def balance_params(self) -> list[dict[str, Any]]: ...

    def wallets(self, client: Any) -> tuple[tuple[str, ...], str | None] | None:
        """The wallets this account's balance sits in and the one no stream reports, where the
        account's mode (known to ``client`` once it has read a balance) differs from the venue's
        ``QUIRKS``; None: as the quirks say."""
        ...

    def position_params(self, markets: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    async def query_order(
        self, session: VenueCalls, order_id: str, tracked: TrackedOrder
    ) -> dict[str, Any] | None: ...

    def ledger_streams(self, client: Any) -> list[tuple[str, dict[str, Any], str]]:
        """``(url, subscribe message, subscribe hash)`` of each stream the venue pushes ledger rows
        on only when asked (empty: they ride a channel another watch subscribes to)."""
        ...


class Normalise(Protocol):
    """``normalise.py``. ``order_fixes`` / ``trade_fixes`` read ``(row, info, market)`` and return
    the unified keys they correct plus ``protectionPrice`` / ``execKind`` (``trade_fixes`` raises
    ``NotAFill`` for an execution that is no trade). ``ws_balance`` returns the currencies a
    WebSocket balance carried, with the REST meaning, and whether they are the whole account
    (``rest``: the last complete REST snapshot; ``markets``: the account's, where a venue names a
    currency after them). ``rest_balance`` is ``None`` where ccxt's unified
    REST balance means what ours does. ``wallet_of`` names the wallet of ``QUIRKS.wallets`` a
    balance's ``info`` came from."""

    def order_fixes(
        self, row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    def trade_fixes(
        self, row: Mapping[str, Any], info: Mapping[str, Any], market: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    def ws_balance(
        self,
        balance: Mapping[str, Any],
        code: CurrencyCode,
        rest: Mapping[str, CurrencyBalance],
        markets: Mapping[str, Any],
    ) -> WsBalance: ...

    def rest_balance(self, balance: Mapping[str, Any]) -> dict[str, CurrencyBalance] | None: ...

    def wallet_of(self, info: Any) -> str | None: ...

    def ws_ledger(self, message: Mapping[str, Any], code: CurrencyCode) -> list[dict[str, Any]]:
        """The ledger rows of one parsed WebSocket frame, in the shape ``ledger_fixes`` reads."""
        ...

    def ledger_fixes(
        self, row: Mapping[str, Any], info: Mapping[str, Any], markets: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The ledger keys of one ccxt ledger (or funding / transaction) row: ``id``,
        ``currency``, ``signedAmount`` (from the account's side, fee excluded), ``reason`` (a
        ``LedgerReason`` value), ``rawType``, ``symbol``, ``after`` (balance after), ``fee``
        (``{cost, currency}``), ``timestamp``; raises ``NotALedgerEntry`` for a row a fill
        accounts for."""
        ...


@dataclass(frozen=True, slots=True)
class VenueAdapter:
    """One venue's role modules (``name``: the ccxt exchange id, ``generic`` for the fallback)."""

    name: str
    capabilities: Capabilities
    history: History
    normalise: Normalise
    reads: Reads

    @property
    def quirks(self) -> Quirks:
        return self.capabilities.QUIRKS
