"""The account ledger's domain: what a fill and an order are, and the arithmetic on them.

Below ``storage`` and ``sinks``, above ``contract`` only: no I/O, no clock, no database. One record
type per fact (``fills.Fill``, ``orders.OrderRecord``; ``booked.BookedFill`` is a fill with its
PnL), the FIFO realised-PnL engine (``fifo``) with its checkpoint and restore (``checkpoint``),
and the rule that combines versions of one order (``orders.merge``). ``storage`` persists these
records, ``sinks`` feed them from the bus, ``verify`` reads the stored books back into them.
"""
