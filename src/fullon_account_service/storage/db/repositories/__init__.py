"""Repositories: one per table, each built on the session of a ``DatabaseContext``.

Convention for every repository (the trades one included): ``XRepository(session: AsyncSession)``;
write methods flush or execute but never commit, so a caller can put several writes in one
transaction. ``TradeRepository`` computes FIFO PnL with ``ledger`` as it stores the fills.
"""

from fullon_account_service.storage.db.repositories.exchanges import ExchangeRepository
from fullon_account_service.storage.db.repositories.ledger import LedgerRepository
from fullon_account_service.storage.db.repositories.orders import OrderRepository
from fullon_account_service.storage.db.repositories.trades import TradeRepository
from fullon_account_service.storage.db.repositories.users import UserRepository

__all__ = ["ExchangeRepository", "LedgerRepository", "OrderRepository", "TradeRepository", "UserRepository"]
