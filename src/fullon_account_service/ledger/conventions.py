"""Values the ledger writes where a venue says nothing and fullon's schema requires one.

Readers (fullon tools, ``verify``) rely on them being exactly these, so every writer takes them
from here.
"""

TERMINAL_STATUSES = ("closed", "canceled", "expired", "rejected")
"""Order statuses after which an order never changes again."""
UNKNOWN_BOT_ID = 0
"""``orders.bot_id`` of an order no known fullon bot placed (fullon requires a value)."""
UNKNOWN = "unknown"
"""``orders.reason`` / ``trades.order_type`` when nobody said (fullon requires a value)."""
