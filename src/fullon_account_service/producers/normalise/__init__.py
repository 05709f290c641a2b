"""ccxt results -> contract events, honestly: unknown stays unknown, bad data is dead-lettered."""

from fullon_account_service.producers.normalise.normaliser import Batch, DeadPayload, Normaliser

__all__ = ["Batch", "DeadPayload", "Normaliser"]
