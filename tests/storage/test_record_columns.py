"""One shape from the record to the row: the trades columns are ``BookedFill``'s fields, the
orders columns ``OrderRecord``'s, the ledger columns ``LedgerRecord``'s (but the key and what the
insert derives)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import Table

from fullon_account_service.ledger.booked import PNL_FIELDS, BookedFill
from fullon_account_service.ledger.entries import LedgerRecord
from fullon_account_service.ledger.fills import Fill
from fullon_account_service.ledger.orders import OrderRecord
from fullon_account_service.storage.db.models import Ledger, Order, Trade


def test_every_trades_column_but_the_keys_is_a_field_of_the_booked_fill() -> None:
    table = Trade.__table__
    assert isinstance(table, Table)
    columns = {column.name for column in table.columns} - {"trade_id", "time"}
    assert set(BookedFill.__struct_fields__) == columns
    assert BookedFill.__struct_fields__ == Fill.__struct_fields__ + PNL_FIELDS


def test_every_orders_column_the_sinks_write_is_a_field_of_the_order_record() -> None:
    table = Order.__table__
    assert isinstance(table, Table)
    written_apart = {"order_id", "final_volume", "timestamp", "tick"}
    columns = {column.name for column in table.columns} - written_apart
    assert {field.name for field in dataclasses.fields(OrderRecord)} == columns


def test_every_ledger_column_but_the_key_is_a_field_of_the_ledger_record() -> None:
    table = Ledger.__table__
    assert isinstance(table, Table)
    assert {column.name for column in table.columns} - {"ledger_id"} == set(LedgerRecord.__struct_fields__)
