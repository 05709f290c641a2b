"""Bus fixtures."""

from __future__ import annotations

import pytest

from fullon_account_service.settings import Settings


@pytest.fixture
def prefix(settings: Settings) -> str:
    return settings.stream_prefix
