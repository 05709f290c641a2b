"""Repositories: one per table, each built on the session of a ``DatabaseContext``.

Convention for every repository (the trades one included): ``XRepository(session: AsyncSession)``;
write methods flush or execute but never commit, so a caller can put several writes in one
transaction. ``TradeRepository`` lives in ``.trades`` (owned by the ORM sink, which computes
FIFO PnL) and is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fullon_account_service.storage.db.repositories.exchanges import ExchangeRepository
from fullon_account_service.storage.db.repositories.orders import OrderRepository
from fullon_account_service.storage.db.repositories.users import UserRepository

if TYPE_CHECKING:
    from fullon_account_service.storage.db.repositories.trades import TradeRepository

__all__ = ["ExchangeRepository", "OrderRepository", "TradeRepository", "UserRepository"]


def __getattr__(name: str) -> Any:
    if name == "TradeRepository":
        from fullon_account_service.storage.db.repositories.trades import TradeRepository

        return TradeRepository
    raise AttributeError(name)
