"""SQL storage: fullon-compatible tables, async engine, migrations and repositories."""

from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.storage.db.engine import make_engine, make_session_factory
from fullon_account_service.storage.db.models import Base, CatExchange, Exchange, Order, Trade, User

__all__ = [
    "Base",
    "CatExchange",
    "DatabaseContext",
    "Exchange",
    "Order",
    "OrderRecord",
    "Trade",
    "User",
    "make_engine",
    "make_session_factory",
]
