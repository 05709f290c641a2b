"""The newest revision of our migrations, so the tests do not repeat it as a literal."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from fullon_account_service.storage.db.migrate import alembic_config

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
