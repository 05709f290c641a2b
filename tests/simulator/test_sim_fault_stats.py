"""The simulator counts the faults it injects and shows who is subscribed to what, in process,
on ``GET /stats`` and in the ground truth, so runs can check dead letters and wait on subscriptions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from fault_app import fault_app

from fullon_account_service.simulator.model import World
from fullon_account_service.simulator.scenario import ScenarioConfig, build_world
from fullon_account_service.simulator.server import Simulator, serve


@pytest.fixture
def world() -> World:
    return build_world(ScenarioConfig(venues=("kraken",), accounts_per_venue=1, seed=3))


@pytest.fixture
async def base(world: World) -> AsyncIterator[str]:
    runner, port = await serve(fault_app(world, messages=6, venue="kraken", push_name="kraken|1"))
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def _frames(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[str]:
    frames: list[str] = []
    async with asyncio.timeout(60):
        while len(frames) < n:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frames.append(msg.data)
    return frames


async def test_damaged_frames_are_counted_once_sent(world: World, base: str) -> None:
    counts = world.fault_counts
    async with aiohttp.ClientSession() as session:
        world.faults.malformed_frame_probability = 1.0
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _frames(ws, 7)
        assert len(frames) == 7
        assert counts.count("malformed_frame", "kraken") == 6
        world.faults.malformed_frame_probability = 0.0
        world.faults.truncated_frame_probability = 1.0
        world.faults.duplicate_probability = 1.0
        async with session.ws_connect(f"ws://{base}/ws") as ws:
            frames = await _frames(ws, 13)
        assert len(frames) == 13
        assert counts.count("truncated_frame") == 12  # every duplicate is a damaged frame too
        assert counts.count("duplicate_frame") == 6
        assert counts.totals() == {"duplicate_frame": 6, "malformed_frame": 6, "truncated_frame": 12}


async def test_http_faults_are_counted(world: World, base: str) -> None:
    async with aiohttp.ClientSession() as session:
        world.faults.rate_limit_probability = 1.0
        for _ in range(3):
            async with session.get(f"http://{base}/rest") as r:
                assert r.status == 429
        world.faults.rate_limit_probability = 0.0
        world.faults.server_error_probability = 1.0
        async with session.get(f"http://{base}/rest") as r:
            assert r.status == 503
    assert world.fault_counts.as_json() == {
        "total": {"rate_limit": 3, "server_error": 1},
        "by_venue": {"kraken": {"rate_limit": 3, "server_error": 1}},
    }


async def test_stats_endpoint_and_truth_show_faults_and_subscriptions() -> None:
    config = ScenarioConfig(venues=("hyperliquid",), accounts_per_venue=1, seed=5)
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        account = sim.world.accounts_of("hyperliquid")[0]
        assert sim.world.subscriptions.active(account) == set()
        sim.world.faults.malformed_frame_probability = 1.0
        url = sim.base_url("hyperliquid").replace("http://", "ws://") + "/ws"
        sub = {"type": "userFills", "user": account.wallet_address}
        async with http.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"method": "subscribe", "subscription": sub}))
            board = await sim.world.subscriptions.wait(account, {"userFills"}, timeout_s=60)
            assert board["userFills"].active == 1 and board["userFills"].subscribes == 1
            frames = await _frames(ws, 2)  # the ack, then the damaged snapshot
            with pytest.raises(json.JSONDecodeError):
                json.loads(frames[1])
            async with http.get(f"{sim.control_url}/stats") as r:
                stats = await r.json()
        assert stats["faults_injected"]["by_venue"]["hyperliquid"]["malformed_frame"] == 1
        [row] = stats["subscriptions"]
        assert row["venue"] == "hyperliquid" and row["index"] == account.index
        assert row["channels"]["userFills"]["subscribes"] == 1
        assert row["channels"]["userFills"]["since_ms"] > 0
        async with asyncio.timeout(60):
            while sim.world.subscriptions.active(account):
                await asyncio.sleep(0.02)
        assert sim.truth()["faults_injected"]["total"] == {"malformed_frame": 1}
        assert sim.stats()["subscriptions"][0]["channels"]["userFills"]["active"] == 0
