"""Fault helpers: HTTP middleware (refuse, slow, 429, 5xx) and the WebSocket push wrapper."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from fault_app import fault_app

from fullon_account_service.simulator.faults import FaultDice
from fullon_account_service.simulator.model import World
from fullon_account_service.simulator.scenario import ScenarioConfig, build_world
from fullon_account_service.simulator.server import serve


@pytest.fixture
def world() -> World:
    return build_world(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=3))


@pytest.fixture
async def base(world: World) -> AsyncIterator[str]:
    runner, port = await serve(fault_app(world, messages=6, venue="test", push_name="test"))
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def _receive(ws: aiohttp.ClientWebSocketResponse, limit: int) -> list[str]:
    """Text frames until the server closes or ``limit`` frames or 1 s of silence."""
    frames: list[str] = []
    while len(frames) < limit:
        try:
            msg = await ws.receive(timeout=1.0)
        except TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        frames.append(msg.data)
    return frames


async def test_rest_faults(world: World, base: str) -> None:
    async with asyncio.timeout(60), aiohttp.ClientSession() as session:
        async with session.get(f"http://{base}/rest") as r:
            assert r.status == 200
        world.faults.rate_limit_probability = 1.0
        world.faults.rate_limit_retry_after_s = 2.5
        async with session.get(f"http://{base}/rest") as r:
            assert r.status == 429 and r.headers["Retry-After"] == "3"
            assert await r.json() == {"error": ["EAPI:Rate limit exceeded"]}
        world.faults.rate_limit_probability = 0.0
        world.faults.server_error_probability = 1.0
        async with session.get(f"http://{base}/rest") as r:
            assert r.status == 503
        world.faults.server_error_probability = 0.0
        world.faults.slow_response_ms = 300
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with session.get(f"http://{base}/rest") as r:
            assert r.status == 200
        assert loop.time() - started >= 0.29
        world.faults.slow_response_ms = 0
        world.faults.refuse_connections_until_ms = world.now_ms() + 60_000
        with pytest.raises(aiohttp.ClientError):
            async with session.get(f"http://{base}/rest"):
                pass
        with pytest.raises(aiohttp.ClientError):
            await session.ws_connect(f"ws://{base}/ws")
        world.faults.refuse_connections_until_ms = 0
        async with session.get(f"http://{base}/rest") as r:
            assert r.status == 200


async def test_ws_clean_then_duplicated(world: World, base: str) -> None:
    async with asyncio.timeout(60), aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _receive(ws, 7)
        assert [json.loads(f) for f in frames] == [{"ack": True}] + [{"n": i} for i in range(6)]
        world.faults.duplicate_probability = 1.0
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _receive(ws, 13)
        assert [json.loads(f) for f in frames[1:]] == [{"n": i} for i in range(6) for _ in range(2)]


async def test_ws_malformed_truncated_and_reordered(world: World, base: str) -> None:
    async with asyncio.timeout(60), aiohttp.ClientSession() as session:
        world.faults.malformed_frame_probability = 1.0
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _receive(ws, 7)
        assert json.loads(frames[0]) == {"ack": True}  # replies are never damaged
        for frame in frames[1:]:
            assert frame.startswith("{")
            with pytest.raises(json.JSONDecodeError):
                json.loads(frame)
        world.faults.malformed_frame_probability = 0.0
        world.faults.truncated_frame_probability = 1.0
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _receive(ws, 7)
        assert all(f.startswith("{") and not f.endswith("}") for f in frames[1:])
        world.faults.truncated_frame_probability = 0.0
        world.faults.reorder_probability = 0.5
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _receive(ws, 7)
        numbers = [json.loads(f)["n"] for f in frames[1:]]
        assert sorted(numbers) == list(range(6))
        assert numbers != list(range(6))


async def test_ws_dropped_periodically_and_at_random(world: World, base: str) -> None:
    async with asyncio.timeout(60), aiohttp.ClientSession() as session:
        world.faults.ws_drop_every_s = 0.3
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            await _receive(ws, 7)
            msg = await ws.receive(timeout=2.0)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1001
        world.faults.ws_drop_every_s = None
        world.faults.ws_drop_probability = 1.0
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _receive(ws, 7)
            assert [json.loads(f) for f in frames] == [{"ack": True}]
            assert ws.closed or (await ws.receive(timeout=2.0)).type != aiohttp.WSMsgType.TEXT


def test_dice_is_seeded_and_silent_at_zero(world: World) -> None:
    world.faults.rest_only_fill_probability = 0.5
    first, second = FaultDice(world, "x"), FaultDice(world, "x")
    assert [first.rest_only_fill() for _ in range(50)] == [second.rest_only_fill() for _ in range(50)]
    quiet = FaultDice(world, "y")
    assert not any(quiet.early_order_update() for _ in range(100))
