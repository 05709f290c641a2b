"""One fill shape from the record to the row: the trades columns are ``BookedFill``'s fields."""

from __future__ import annotations

from sqlalchemy import Table

from fullon_account_service.ledger.booked import PNL_FIELDS, BookedFill
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.storage.db.models import Trade


def test_every_trades_column_but_the_keys_is_a_field_of_the_booked_fill() -> None:
    table = Trade.__table__
    assert isinstance(table, Table)
    columns = {column.name for column in table.columns} - {"trade_id", "time"}
    assert set(BookedFill.__struct_fields__) == columns
    assert BookedFill.__struct_fields__ == Fill.__struct_fields__ + PNL_FIELDS
