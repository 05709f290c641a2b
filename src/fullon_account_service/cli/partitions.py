"""``--partitions N`` of ``producer`` and ``sink``: the command-line form of
``ACCOUNT_STREAM_PARTITIONS``, for the process it starts.

Producers, sinks and tools must all read one value (a sink that reads fewer partitions than the
producers write never sees the rest), so the setting stays the place to set it for a deployment;
the option is for one process started by hand, and wins over the setting.
"""

from __future__ import annotations

import dataclasses

from fullon_account_service.settings import Settings

PARTITIONS_HELP = (
    "Streams per event kind, by ex_id (default ACCOUNT_STREAM_PARTITIONS, else 1); "
    "every producer, sink and tool must use the same number."
)


def with_partitions(settings: Settings, partitions: int | None) -> Settings:
    return settings if partitions is None else dataclasses.replace(settings, stream_partitions=partitions)
