"""``--partitions`` of ``producer`` and ``sink`` wins over ``ACCOUNT_STREAM_PARTITIONS``, and a
count below one is refused before anything starts."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fullon_account_service.cli.app import app
from fullon_account_service.cli.partitions import with_partitions
from fullon_account_service.settings import Settings


def test_the_option_wins_over_the_setting() -> None:
    settings = Settings.from_env({"ACCOUNT_STREAM_PARTITIONS": "2"})
    assert with_partitions(settings, None).stream_partitions == 2
    assert with_partitions(settings, 6).stream_partitions == 6


@pytest.mark.parametrize("command", [["producer"], ["sink", "--group", "orm"]])
def test_zero_partitions_is_refused(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--partitions", "0"])
    assert result.exit_code == 2
    assert "--partitions" in result.output
