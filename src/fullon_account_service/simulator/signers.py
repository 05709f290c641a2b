"""Who signed each API key's requests, and when: evidence that two clients never shared a key.

A client names itself with the ``X-Sim-Client`` header (ccxt's ``headers`` option adds it to every
request); without it, its TCP peer address stands in. Per key the log keeps runs: a run is one
client's consecutive signed requests (first and last time, how many), and a new run starts when
another client signs. Clients that took turns through a lease make one run per turn; two clients
signing at the same time interleave, so the number of runs per key is the thing to check
(``runs``), alongside the venue's own nonce errors on Kraken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_HEADER = "X-Sim-Client"


@dataclass(slots=True)
class Run:
    client: str
    first_ms: int
    last_ms: int
    requests: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "first_ms": self.first_ms,
            "last_ms": self.last_ms,
            "requests": self.requests,
        }


@dataclass(slots=True)
class SignerLog:
    _runs: dict[str, list[Run]] = field(default_factory=dict)

    def signed(self, api_key: str, client: str, now_ms: int) -> None:
        runs = self._runs.setdefault(api_key, [])
        if runs and runs[-1].client == client:
            runs[-1].last_ms = now_ms
            runs[-1].requests += 1
        else:
            runs.append(Run(client, now_ms, now_ms))

    def runs(self, api_key: str) -> list[Run]:
        return list(self._runs.get(api_key, []))

    def clients(self, api_key: str) -> set[str]:
        return {run.client for run in self._runs.get(api_key, [])}


def client_of(request: web.Request) -> str:
    """The request's client: its ``X-Sim-Client`` header, else its TCP peer."""
    named = request.headers.get(CLIENT_HEADER)
    if named:
        return named
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"peer:{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "peer:unknown"
