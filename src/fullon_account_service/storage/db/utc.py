"""A stored timestamp read back as an aware UTC ``datetime``, whichever driver read it.

Timestamps are stored as the naive UTC wall time (fullon's ``timestamp without time zone``):
asyncpg hands back a naive ``datetime``, SQLite the ISO text SQLAlchemy wrote. Shared by the
column type and the plain reads, so both give the same value.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: object) -> datetime:
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
