"""The event bus on Redis Streams: publish, consume with groups, dead-letter, trim safely."""

from fullon_account_service.bus.consumer import Consumer, Delivery, Handler, Prepare
from fullon_account_service.bus.deadletter import dead_letter
from fullon_account_service.bus.publisher import Publisher
from fullon_account_service.bus.streams import dead_letter_key, stream_key
from fullon_account_service.bus.trim import trim_acknowledged

__all__ = [
    "Consumer",
    "Delivery",
    "Handler",
    "Prepare",
    "Publisher",
    "dead_letter",
    "dead_letter_key",
    "stream_key",
    "trim_acknowledged",
]
