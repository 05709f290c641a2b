"""Where the sinks put things: Redis (AccountCache, ProcessCache) and SQL (DatabaseContext)."""

from fullon_account_service.storage.account_cache import AccountCache
from fullon_account_service.storage.db.context import DatabaseContext
from fullon_account_service.storage.process_cache import ProcessCache

__all__ = ["AccountCache", "DatabaseContext", "ProcessCache"]
