"""fullon_account_service: watch crypto exchange accounts through ccxt, Redis Streams and SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fullon_account_service.producers.capabilities import CapabilityDetector, CollectionStrategy
    from fullon_account_service.producers.daemon import AccountDaemon
    from fullon_account_service.producers.live_collector import LiveAccountCollector
    from fullon_account_service.producers.rest_poller import RestAccountPoller

_LAZY = {
    "AccountDaemon": "fullon_account_service.producers.daemon",
    "LiveAccountCollector": "fullon_account_service.producers.live_collector",
    "RestAccountPoller": "fullon_account_service.producers.rest_poller",
    "CapabilityDetector": "fullon_account_service.producers.capabilities",
    "CollectionStrategy": "fullon_account_service.producers.capabilities",
}

__all__ = [
    "AccountDaemon",
    "CapabilityDetector",
    "CollectionStrategy",
    "LiveAccountCollector",
    "RestAccountPoller",
]


def __getattr__(name: str) -> Any:
    """Import the public classes on first use: ``import fullon_account_service`` stays cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fullon_account_service' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
