"""Where the sinks put things: Redis (AccountCache, ProcessCache) and SQL (DatabaseContext).

The classes are imported on first use, so a command that only needs the database does not pay
for the Redis clients' import, nor the reverse.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fullon_account_service.storage.account_cache import AccountCache
    from fullon_account_service.storage.db.context import DatabaseContext
    from fullon_account_service.storage.process_cache import ProcessCache

_LAZY = {
    "AccountCache": "fullon_account_service.storage.account_cache",
    "DatabaseContext": "fullon_account_service.storage.db.context",
    "ProcessCache": "fullon_account_service.storage.process_cache",
}

__all__ = ["AccountCache", "DatabaseContext", "ProcessCache"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fullon_account_service.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
