"""Producer venue adapters: one folder per ccxt exchange id, with the same file roles in each
(``adapter`` names them), plus ``generic`` for any other id. docs/adding-a-venue.md says how to
add one."""

from fullon_account_service.producers.venues.registry import ADAPTERS, GENERIC, adapter_for

__all__ = ["ADAPTERS", "GENERIC", "adapter_for"]
