"""Seed import path for the capability detector; the implementation lives in ``producers``."""

from fullon_account_service.producers.capabilities import CapabilityDetector, CollectionStrategy

__all__ = ["CapabilityDetector", "CollectionStrategy"]
