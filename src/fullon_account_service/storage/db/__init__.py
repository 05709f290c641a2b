"""SQL storage: fullon-compatible tables, async engine, migrations and repositories.

The names below are imported on first use: a short command that imports only the engine (``pnl``,
``db current``) must not pay for the repositories and the event contract they bring in.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fullon_account_service.storage.db.context import DatabaseContext
    from fullon_account_service.storage.db.engine import make_engine, make_session_factory
    from fullon_account_service.storage.db.models import Base, CatExchange, Exchange, Order, Trade, User

_MODULE_OF = {
    "Base": "models",
    "CatExchange": "models",
    "DatabaseContext": "context",
    "Exchange": "models",
    "Order": "models",
    "Trade": "models",
    "User": "models",
    "make_engine": "engine",
    "make_session_factory": "engine",
}

__all__ = [
    "Base",
    "CatExchange",
    "DatabaseContext",
    "Exchange",
    "Order",
    "Trade",
    "User",
    "make_engine",
    "make_session_factory",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
