"""Names of the schema that code without SQLAlchemy needs too (``plain_reads``, ``plain_writes``).

Our Alembic revision is kept in our own version table, never fullon_orm's ``alembic_version``
(see ``version_table``).
"""

from __future__ import annotations

VERSION_TABLE = "fullon_account_alembic_version"
LEGACY_VERSION_TABLE = "alembic_version"
EXCHANGES_CHANNEL = "fullon_account_exchanges"
"""``NOTIFY`` channel (PostgreSQL) of a change to the accounts: producers ``LISTEN`` on it."""
