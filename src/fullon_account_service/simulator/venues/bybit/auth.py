"""Bybit v5 credential checks, done the way the venue does them, with the venue's own error bodies.

REST: ``X-BAPI-SIGN = hex(HMAC_SHA256(secret, timestamp + apiKey + recvWindow + queryString))`` where
``queryString`` is the URL query exactly as sent (a POST signs its JSON body instead). A timestamp
outside ``[server - recvWindow, server + 1000)`` is refused with 10002 before the key is looked up.
WebSocket: ``{"op":"auth","args":[apiKey, expires, hex(HMAC_SHA256(secret, "GET/realtime" + expires))]}``
with ``expires`` in the future.

Freshness is judged on the wall clock (``clock_ms``), not on the world's clock: clients stamp requests
with their own wall time, while the world's clock may be virtual. Error messages never echo the key
or the string that was signed, so they cannot leak credentials into a client's logs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from fullon_account_service.simulator.model import SimAccount, World
from fullon_account_service.simulator.signers import client_of

VENUE = "bybit"
DEFAULT_RECV_WINDOW_MS = 5000
_FUTURE_TOLERANCE_MS = 1000

Clock = Callable[[], int]

WORLD = web.AppKey("bybit_world", World)
CLOCK: web.AppKey[Clock] = web.AppKey("bybit_clock")


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class BybitError(Exception):
    """A refusal the venue answers with ``retCode``/``retMsg`` (and this HTTP status)."""

    def __init__(self, code: int, message: str, http_status: int = 200) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def invalid_key() -> BybitError:
    return BybitError(10003, "API key is invalid.", 401)


def invalid_sign() -> BybitError:
    return BybitError(10004, "Error sign, please check your signature generation algorithm.", 401)


def rate_limited() -> BybitError:
    """The venue's own body for a request over the limit (sent with HTTP 429 by the fault layer)."""
    return BybitError(10006, "Too many visits. Exceeded the API Rate Limit.", 429)


def error_body(error: BybitError, now_ms: int) -> dict[str, Any]:
    return {"retCode": error.code, "retMsg": error.message, "result": {}, "retExtInfo": {}, "time": now_ms}


def error_response(error: BybitError, now_ms: int) -> web.Response:
    return web.json_response(error_body(error, now_ms), status=error.http_status)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _raw_query(request: web.Request) -> str:
    path = request.raw_path
    return path.split("?", 1)[1] if "?" in path else ""


def _expired(timestamp: int, recv_window: int, now: int) -> BybitError:
    return BybitError(
        10002,
        "invalid request, please check your server timestamp or recv_window param. "
        f"req_timestamp[{timestamp}],server_timestamp[{now}],recv_window[{recv_window}]",
    )


async def authenticate_rest(request: web.Request, world: World, clock_ms: Clock) -> SimAccount:
    """The account a signed request belongs to, or ``BybitError`` as the venue would refuse it."""
    headers = request.headers
    api_key = headers.get("X-BAPI-API-KEY", "")
    if not api_key:
        raise invalid_key()
    try:
        timestamp = int(headers.get("X-BAPI-TIMESTAMP", ""))
        recv_window = int(headers.get("X-BAPI-RECV-WINDOW") or DEFAULT_RECV_WINDOW_MS)
    except ValueError:
        raise BybitError(10001, "params error: X-BAPI-TIMESTAMP or X-BAPI-RECV-WINDOW invalid") from None
    now = clock_ms()
    if not now - recv_window <= timestamp < now + _FUTURE_TOLERANCE_MS:
        raise _expired(timestamp, recv_window, now)
    account = world.account_by_key(VENUE, api_key)
    if account is None:
        raise invalid_key()
    prefix = headers.get("X-BAPI-TIMESTAMP", "") + api_key + headers.get("X-BAPI-RECV-WINDOW", "")
    if request.method == "POST":
        candidates = [(await request.text())]
    else:
        raw = _raw_query(request)
        candidates = [raw, unquote(raw)]
    given = headers.get("X-BAPI-SIGN", "")
    if not any(hmac.compare_digest(sign(account.secret, prefix + c), given) for c in candidates):
        raise invalid_sign()
    return account


def ws_auth_failure(message: str) -> dict[str, Any]:
    """What the private stream answers to a refused ``auth`` op (no ``retCode``, as the venue)."""
    return {"success": False, "ret_msg": message, "op": "auth"}


def authenticate_ws(args: list[Any], world: World, clock_ms: Clock) -> SimAccount | str:
    """The account for an ``auth`` op's args, or the venue's ``ret_msg`` explaining the refusal."""
    if len(args) != 3:
        return "Params Error"
    api_key, expires, signature = (str(a) for a in args)
    try:
        expires_ms = int(expires)
    except ValueError:
        return "Params Error"
    if expires_ms <= clock_ms():
        return "Params Error"
    account = world.account_by_key(VENUE, api_key)
    if account is None:
        return "Request not authorized"
    if not hmac.compare_digest(sign(account.secret, "GET/realtime" + expires), signature):
        return "Request not authorized"
    return account


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SignedHandler = Callable[[web.Request, SimAccount], Awaitable[web.StreamResponse]]


def signed(handler: SignedHandler) -> Handler:
    """Wrap a private endpoint: check the signature first, answer a refusal as the venue does."""

    async def route(request: web.Request) -> web.StreamResponse:
        world, clock = request.app[WORLD], request.app[CLOCK]
        try:
            account = await authenticate_rest(request, world, clock)
            world.signers.signed(account.api_key, client_of(request), world.now_ms())
            return await handler(request, account)
        except BybitError as e:
            return error_response(e, world.now_ms())

    return route
