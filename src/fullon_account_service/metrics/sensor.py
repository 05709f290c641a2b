"""Hooks the hot paths call instead of a metrics library.

Producers, sinks and the bus call ``sensor.on_*``; the base class does nothing, so code runs the
same with metrics off, and tests can pass a recording sensor. ``PrometheusSensor`` fills them in.
"""

from __future__ import annotations


class Sensor:
    def on_events_published(self, kind: str, exchange: str, count: int) -> None:
        """Events of one kind from one venue reached the bus."""

    def on_reconnect(self, exchange: str) -> None:
        """A WebSocket stream had to reconnect."""

    def on_rest_call(self, exchange: str, method: str) -> None:
        """One REST request was sent to a venue."""

    def on_rate_limited(self, exchange: str) -> None:
        """A venue answered 429 or an equivalent rate-limit error."""

    def on_dead_letter(self, origin: str) -> None:
        """An entry or a payload went to the dead-letter stream."""

    def on_sink_batch(self, group: str, count: int, seconds: float) -> None:
        """A sink committed a batch of ``count`` entries in ``seconds``."""

    def on_stream_state(self, stream: str, group: str, lag: int, pending: int) -> None:
        """Periodic reading of a consumer group's lag and pending count."""

    def on_dead_letter_size(self, size: int) -> None:
        """Periodic reading of the dead-letter stream's length."""

    def on_bad_frame(self, exchange: str) -> None:
        """A WebSocket frame could not be read; it was dead-lettered and the stream went on."""

    def on_ws_frame(self, exchange: str, cpu_s: float, weight: int) -> None:
        """ccxt read a WebSocket frame (decoding and parsing it into its caches) in ``cpu_s`` of
        the reading thread's CPU time; it was drawn at random and stands for ``weight`` frames.
        The venue's own parse cost, against which the producer's whole CPU per message is judged
        (a thread's CPU time does not count while it waits)."""

    def on_ws_loop_restart(self, exchange: str, kind: str) -> None:
        """A WebSocket loop failed unexpectedly and was restarted."""

    def on_buffer_depth(self, buffer: str, size: int) -> None:
        """How many entries wait in a producer's in-memory buffer (``events``, ``dead_letters``)."""

    def on_backpressure(self, buffer: str) -> None:
        """A writer waited because ``buffer`` was full (the buffer slowed it down, dropped nothing)."""

    def on_balance_unexplained(self, ex_id: int, currency: str, remainder: float) -> None:
        """Periodic reading: the largest unexplained balance change of an account's currency
        (0.0 when every judged window explains to zero)."""

    def on_buffer_overflow(self, buffer: str) -> None:
        """An entry was kept past ``buffer``'s bound because its writer cannot wait (nothing dropped)."""


NULL_SENSOR = Sensor()
