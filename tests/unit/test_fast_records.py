"""The fast RECORD path drops exactly the properties the SDK's deselection walk drops.

Differential (hypothesis): for any selection mask (explicit True/False at any depth, a property
selected under a deselected parent, breadcrumbs the walk never reads) and any nested record,
``deselected_properties`` + ``drop_nested`` leave the same dict, key order included, as singer-sdk's
``pop_deselected_record_properties``.
"""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.singerlib.catalog import SelectionMask

from tap_salesforce_temporal.output.writer import deselected_properties, drop_nested

NAMES = st.sampled_from(["a", "b", "context", "metadata", "x"])
PATHS = st.lists(NAMES, min_size=1, max_size=3)
VALUES = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: st.dictionaries(NAMES, inner, max_size=4) | st.lists(inner, max_size=2),
    max_leaves=12,
)
RECORDS = st.dictionaries(NAMES, VALUES, max_size=5)


def _breadcrumb(path: list[str]) -> tuple[str, ...]:
    return tuple(part for name in path for part in ("properties", name))


MASKS = st.lists(
    st.tuples(PATHS.map(_breadcrumb), st.booleans())
    | st.tuples(st.sampled_from([("items",), ("properties", "a", "items")]), st.booleans()),
    max_size=6,
).map(lambda entries: SelectionMask([((), True), *entries]))


@settings(max_examples=300, deadline=None)
@given(mask=MASKS, record=RECORDS)
def test_given_any_mask_and_record_then_the_same_properties_are_dropped_as_by_the_sdk(
    mask: SelectionMask, record: dict
) -> None:
    expected = copy.deepcopy(record)
    pop_deselected_record_properties(expected, {}, mask)
    tree = deselected_properties(mask)
    assert tree is not None
    ours = copy.deepcopy(record)
    drop_nested(ours, tree)
    assert ours == expected
    assert repr(ours) == repr(expected), "key order kept"


def test_given_a_nested_property_deselected_then_only_it_goes() -> None:
    mask = SelectionMask(
        {
            (): True,
            ("properties", "context"): True,
            ("properties", "context", "properties", "metadata"): False,
            ("properties", "actor_type"): False,
        }
    )
    record = {"actor_type": "user", "context": {"metadata": {"k": 1}, "source_object": "Task"}}
    tree = deselected_properties(mask)
    assert tree == {"context": {"metadata": None}, "actor_type": None}
    drop_nested(record, tree)
    assert record == {"context": {"source_object": "Task"}}


def test_given_the_stream_deselected_then_the_fast_path_declines() -> None:
    assert deselected_properties(SelectionMask({(): False})) is None
