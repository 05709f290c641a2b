"""``IntMap`` answers as a dict of the same puts and removals would, whatever their order: the
final states rely on a key being found exactly when it was put and not removed since, and on the
value being the last one put."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fullon_account_service.producers.int_map import IntMap

_int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_keys = st.one_of(st.integers(min_value=-5, max_value=5), _int64)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), _keys, _int64),
        st.tuples(st.just("remove"), _keys, st.just(0)),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(_ops, st.lists(_keys, max_size=20))
def test_an_int_map_answers_as_a_dict(ops: list[tuple[str, int, int]], probes: list[int]) -> None:
    table, model = IntMap(), dict[int, int]()
    for op, key, value in ops:
        if op == "put":
            table.put(key, value)
            model[key] = value
        else:
            table.remove(key)
            model.pop(key, None)
        assert len(table) == len(model)
    for key in [*probes, *model]:
        assert table.get(key) == model.get(key)
