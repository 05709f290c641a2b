"""The trigger that fills ``trades.time_ms`` from ``time`` when a writer leaves it out.

fullon's own tools insert trades without our ``time_ms`` column, which the FIFO sink orders and
reads by. Migration 0003 installs the trigger, and ``migrate.restore_missing_tables`` installs it
again when it re-creates a lost ``trades`` table, so both paths use these statements.
"""

from __future__ import annotations

TRIGGER = "trades_time_ms"
PG_FUNCTION = "fullon_account_trades_time_ms"

_PG_TRIGGER = (
    f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.time_ms := floor(extract(epoch FROM NEW.time) * 1000)::bigint; RETURN NEW; END $$",
    f"DROP TRIGGER IF EXISTS {TRIGGER} ON trades",
    f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON trades FOR EACH ROW "
    f"WHEN (NEW.time_ms IS NULL AND NEW.time IS NOT NULL) EXECUTE FUNCTION {PG_FUNCTION}()",
)
# Whole seconds from strftime, milliseconds cut (not rounded, as PostgreSQL's floor) from the
# stored text 'YYYY-MM-DD HH:MM:SS.ffffff': strftime('%f') would round them.
SQLITE_MS = "(CAST(strftime('%s', {t}) AS INTEGER) * 1000 + CAST(substr({t} || '000', 21, 3) AS INTEGER))"
_SQLITE_TRIGGER = (
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER INSERT ON trades "
    "WHEN NEW.time_ms IS NULL AND NEW.time IS NOT NULL BEGIN "
    f"UPDATE trades SET time_ms = {SQLITE_MS.format(t='NEW.time')} WHERE trade_id = NEW.trade_id; END"
)


def time_ms_trigger(dialect: str) -> tuple[str, ...]:
    """The statements that (re)install the trigger on ``dialect`` (``postgresql`` or ``sqlite``)."""
    return _PG_TRIGGER if dialect == "postgresql" else (_SQLITE_TRIGGER,)
