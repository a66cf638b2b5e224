"""The sandbox skips sorting rows that already stand in ORDER BY order; the check must agree with
Arrow's own sort on every table, or a query would come back out of order."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from synthetic_org.soql.engine import in_order

DIRECTIONS = st.sampled_from(["ascending", "descending"])


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["a", "b", "c"]), st.integers(0, 2)),
        max_size=12,
    ),
    directions=st.tuples(DIRECTIONS, DIRECTIONS, DIRECTIONS),
    width=st.integers(1, 3),
    presorted=st.booleans(),
)
def test_in_order_agrees_with_arrow_sort(rows, directions, width, presorted) -> None:
    table = pa.table(
        {
            "k0": pa.array([r[0] for r in rows], pa.int64()),
            "k1": pa.array([r[1] for r in rows], pa.string()),
            "k2": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    keys = [(f"k{i}", directions[i], "at_start") for i in range(width)]
    if presorted:
        table = table.take(pc.sort_indices(table, sort_keys=keys))
    names = [k[0] for k in keys]
    resorted = table.take(pc.sort_indices(table, sort_keys=keys)).select(names)
    assert in_order(table, keys) == resorted.equals(table.select(names))


def test_nulls_are_left_to_the_sort() -> None:
    table = pa.table({"k": pa.array([None, 1, 2], pa.int64())})
    assert in_order(table, [("k", "ascending", "at_start")]) is False


def test_chunked_columns_are_compared_across_chunk_boundaries() -> None:
    column = pa.chunked_array([pa.array([1, 2, 5]), pa.array([4, 6])])
    assert in_order(pa.table({"k": column}), [("k", "ascending", "at_start")]) is False
    column = pa.chunked_array([pa.array([1, 2, 4]), pa.array([4, 6])])
    assert in_order(pa.table({"k": column}), [("k", "ascending", "at_start")]) is True
