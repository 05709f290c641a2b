"""What every simulated venue provides: the contract between the simulator core and a venue.

Each venue lives in ``simulator/venues/<ccxt id>/`` with the same file roles (``auth``, ``markets``,
``render``, ``rest``, ``ws``) and exposes ``VENUE`` in its ``__init__``.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from fullon_account_service.simulator.model import SimAccount, World


class VenueSpec(Protocol):
    name: str
    """ccxt exchange id, e.g. ``kraken``."""

    def build_app(self, world: World) -> web.Application:
        """REST and WebSocket endpoints of the venue on one aiohttp application."""
        ...

    def client_config(self, account: SimAccount, base_url: str) -> dict[str, Any]:
        """ccxt constructor config (credentials, ``urls`` overrides, options) for ``account``
        against a venue served at ``base_url`` (``http://127.0.0.1:PORT``)."""
        ...
