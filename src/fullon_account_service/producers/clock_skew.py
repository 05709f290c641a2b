"""How far back a history re-read must reach, per venue: twice the venue's clock skew.

A fill can be listed after a read that started later than the fill's timestamp says: the venue's
clock trails ours, or the fill took a while to be listed. A history read therefore starts a little
before its cursor (the *overlap*). The overlap is twice the larger of the configured skew
(``ACCOUNT_CLOCK_SKEW_MS``) and the skew measured on WebSocket fills as they arrive (our receive
time minus the venue's fill time, both ways), so a venue whose clock runs late widens it by itself.

The measure is the *smallest* lag of the last few fills: a clock's offset is in every sample,
while what the stream adds on top (the network, the venue's push, and above all this producer's
own backlog when it falls behind) varies from fill to fill. The largest lag was once taken: at
saturation the producer's backlog then widened every re-read to up to two minutes, far more than
the memories of what is on the bus hold, and the audits sent again what the streams had sent
(issue 18). A lag beyond ``MAX_SAMPLE_MS`` is capped (a replayed old fill measures nothing).
"""

from __future__ import annotations

from collections import deque

MAX_SAMPLE_MS = 60_000
"""A lag beyond this is a late delivery (a replay, a stalled socket), not a clock."""


class ClockSkew:
    def __init__(self, configured_ms: int, *, samples: int = 32) -> None:
        self.configured_ms = configured_ms
        self._samples = samples
        self._lags: dict[str, deque[int]] = {}

    def observe(self, venue: str, received_ms: int, exchange_ms: int | None) -> None:
        """One fill seen live: ``received_ms`` on our clock, ``exchange_ms`` on the venue's."""
        if exchange_ms is None:
            return
        lags = self._lags.get(venue)
        if lags is None:
            lags = self._lags[venue] = deque(maxlen=self._samples)
        lags.append(min(abs(received_ms - exchange_ms), MAX_SAMPLE_MS))

    def measured_ms(self, venue: str) -> int:
        """The smallest recent lag: the clock's share, not the stream's delays."""
        return min(self._lags.get(venue, ()), default=0)

    def overlap_ms(self, venue: str) -> int:
        return 2 * max(self.configured_ms, self.measured_ms(venue))
