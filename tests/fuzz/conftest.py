"""Fuzz fixtures. The fuzz tests feed the sinks and the producer's parsers through the builders
of their own suites (``tests/sinks``, ``tests/producers``), so those folders are importable here."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

for _suite in ("sinks", "producers"):
    _folder = str(Path(__file__).parent.parent / _suite)
    if _folder not in sys.path:
        sys.path.append(_folder)

from sink_samples import Db, reset_database  # noqa: E402

from fullon_account_service.settings import Settings  # noqa: E402
from fullon_account_service.storage.db import make_engine, make_session_factory  # noqa: E402


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Db]:
    """The sinks' database: migrated, with the known accounts ex_id 1 and 2."""
    await reset_database(settings.database_url)
    engine = make_engine(settings.database_url)
    yield Db(settings.database_url, make_session_factory(engine))
    await engine.dispose()
