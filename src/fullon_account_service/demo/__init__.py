"""``fullon-account demo``: the whole service in one process against the simulator.

``wiring`` builds the pieces (simulator, embedded database and Redis, registered accounts,
producer context), ``run`` drives them, ``state`` reads what they hold into a ``Snapshot``,
``dashboard`` draws one, ``settle`` waits for the books to catch up and ``report`` says whether
they equal the simulator's ground truth.
"""
