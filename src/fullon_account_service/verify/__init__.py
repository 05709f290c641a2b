"""Checking the service's output against the simulator's ground truth.

``books.verify_books`` compares what the sinks stored (SQL and AccountCache); ``events.compare_events``
compares what the producers published. Both answer with a ``BooksComparison``.
"""

from fullon_account_service.verify.books import StoredBooks, load_stored, verify_books
from fullon_account_service.verify.compare import AccountKey, BooksComparison, compare_books
from fullon_account_service.verify.events import compare_events, fold_events

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
