"""Checking the service's output against the simulator's ground truth.

``books.verify_books`` compares what the sinks stored (SQL and AccountCache); ``events.compare_events``
compares what the producers published. Both answer with a ``BooksComparison``.

The names below are imported on first use: ``health`` reads balance explained (``verify.explained``)
through the database driver alone and must not pay for the ORM that ``books`` reads through.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fullon_account_service.verify.books import StoredBooks, load_stored, verify_books
    from fullon_account_service.verify.compare import AccountKey, BooksComparison, compare_books
    from fullon_account_service.verify.events import compare_events, fold_events

_MODULE_OF = {
    "AccountKey": "compare",
    "BooksComparison": "compare",
    "StoredBooks": "books",
    "compare_books": "compare",
    "compare_events": "events",
    "fold_events": "events",
    "load_stored": "books",
    "verify_books": "books",
}

__all__ = [
    "AccountKey",
    "BooksComparison",
    "StoredBooks",
    "compare_books",
    "compare_events",
    "fold_events",
    "load_stored",
    "verify_books",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
