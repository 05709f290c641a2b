"""A registered secret never reaches a JSON log line, wherever it hides in the event."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from fullon_account_service.logs import configure_logging, get_logger
from fullon_account_service.redaction import register_secret
from fullon_account_service.settings import Settings

CANARY = "canary-S3cr3t-9f8e7d6c"


@pytest.fixture
def output(tmp_path: Path) -> Iterator[io.StringIO]:
    """What the service's log handler writes, captured by pointing its stream at a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings.from_env({"LOG_FORMAT": "json", "ACCOUNT_DATA_DIR": str(tmp_path)}))
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    handler.setStream(buffer)
    yield buffer
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_canary_never_logged(output: io.StringIO) -> None:
    register_secret(CANARY)
    log = get_logger("test")
    log.info(f"connecting with {CANARY}", detail={"nested": [f"x{CANARY}x"]}, api_key="plain-looking-key")
    log.warning("request failed", url=f"https://venue/?key={CANARY}&n=1")
    try:
        raise RuntimeError(f"venue rejected signature for key {CANARY}")
    except RuntimeError:
        log.exception("call failed")
    log.error("wrapped", error=ValueError(f"bad {CANARY}"))
    foreign = logging.getLogger("aiohttp.client")
    foreign.warning("stdlib says %s", CANARY)
    try:
        raise ConnectionError(f"auth {CANARY}")
    except ConnectionError:
        foreign.exception("stdlib failure")

    err = output.getvalue()
    records = lines(err)
    assert len(records) == 6
    assert CANARY not in err
    assert "plain-looking-key" not in err
    assert records[0]["logger"] == "fullon.account.test"
    assert "***" in str(records[0]["event"])
    assert "RuntimeError" in str(records[2]["exception"])
    assert "***" in str(records[2]["exception"])
    assert records[4]["logger"] == "aiohttp.client"
    assert records[5]["level"] == "error"
    assert "ConnectionError" in str(records[5]["exception"])
