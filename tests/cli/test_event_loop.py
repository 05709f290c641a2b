"""The long-running commands run on uvloop where it is installed, on asyncio's loop where not
(``cli.event_loop``); what runs on it is the same either way."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
import uvloop

from fullon_account_service.cli import event_loop


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_a_command_runs_on_uvloop_when_it_is_installed() -> None:
    assert event_loop.run(_loop_type()) is uvloop.Loop


def test_without_uvloop_a_command_runs_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an absent package looks like to import
    assert event_loop.loop_factory() is None
    assert issubclass(event_loop.run(_loop_type()), asyncio.BaseEventLoop)


def test_a_signal_handler_and_the_result_come_through() -> None:
    """The commands stop on SIGTERM through ``loop.add_signal_handler``: it works on this loop."""

    async def stopped_by_sigterm() -> str:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        try:
            signal.raise_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                await stop.wait()
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
        return "stopped"

    assert event_loop.run(stopped_by_sigterm()) == "stopped"
