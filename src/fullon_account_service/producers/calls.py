"""What venue code needs of an account session: its ccxt client and a call through it.

``AccountSession`` is one; typing venue code against this protocol instead keeps the venue adapters
below the session (which builds the normaliser, which uses the adapters): no import cycle, and
tests can page a fake venue.
"""

from __future__ import annotations

from typing import Any, Protocol


class VenueCalls(Protocol):
    client: Any
    """The account's ccxt client (``has``, ``markets``)."""

    async def call(self, method: str, *args: Any) -> Any:
        """``client.<method>(*args)``, with ccxt's errors translated to ours."""
