"""A page's RECORD lines built with Arrow kernels against msgspec encoding each record dict.

Differential (hypothesis): whatever the strings (quotes, backslashes, every control character,
non-ASCII), numbers and nulls, each line must decode to exactly the record dict the per-record
path writes, with the same JSON types (floats stay floats), compounds assembled the same way and
deselected columns left out.
"""

from __future__ import annotations

import json

import msgspec
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_salesforce_temporal.output.record_lines import record_lines

PREFIX = b'{"type":"RECORD","stream":"Account","record":'
SUFFIX = b',"time_extracted":"2026-11-23T00:00:00Z"}\n'
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ['"', "\\", "\x00", "\x1f", "\n\r\t\b\f", "é€😀", "</script>", "\u2028"]
)
COLUMNS = {
    "Id": (pa.string(), TEXT),
    "Count__c": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "Amount": (pa.float64(), st.floats(allow_nan=False, allow_infinity=False)),
    "IsDeleted": (pa.bool_(), st.booleans()),
    "BillingCity": (pa.string(), TEXT),
    "BillingLatitude": (pa.float64(), st.floats(-90, 90)),
}
COMPOUNDS = [("BillingAddress", [("city", "BillingCity"), ("latitude", "BillingLatitude")])]


def _rows(size: int) -> st.SearchStrategy[list[dict]]:
    row = st.fixed_dictionaries({name: st.none() | values for name, (_, values) in COLUMNS.items()})
    return st.lists(row, min_size=size, max_size=size)


def _per_record(rows: list[dict], drop: set[str]) -> list[dict]:
    """What the per-record path writes: compounds from components, then deselected keys dropped."""
    records = []
    for row in rows:
        record = dict(row)
        for name, parts in COMPOUNDS:
            values = {key: row[column] for key, column in parts}
            record[name] = values if any(v is not None for v in values.values()) else None
        records.append({k: v for k, v in record.items() if k not in drop})
    return records


def _typed(value: object) -> object:
    """A value with its JSON type made visible (1 and 1.0 compare equal in Python)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, value)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(_rows),
    drop=st.sets(st.sampled_from([*COLUMNS, "BillingAddress"]), max_size=3),
)
def test_lines_decode_to_the_records_msgspec_would_write(rows: list[dict], drop: set[str]) -> None:
    table = pa.table(
        {name: pa.array([r[name] for r in rows], kind) for name, (kind, _) in COLUMNS.items()}
    )
    lines = record_lines(table, PREFIX, SUFFIX, COMPOUNDS, drop)
    assert lines is not None
    text = bytes(lines)
    assert text.endswith(b"\n")
    got = [msgspec.json.decode(line) for line in text.splitlines()]
    expected = [
        msgspec.json.decode(PREFIX + msgspec.json.encode(record) + SUFFIX)
        for record in _per_record(rows, drop)
    ]
    assert [_typed(g["record"]) for g in got] == [_typed(e["record"]) for e in expected]
    assert [{**g, "record": None} for g in got] == [{**e, "record": None} for e in expected]


def test_a_column_it_cannot_write_declines_the_page() -> None:
    table = pa.table({"Id": ["a"], "When": pa.array([0], pa.timestamp("ms"))})
    assert record_lines(table, PREFIX, SUFFIX) is None
    assert record_lines(pa.table({"x": [float("nan")]}), PREFIX, SUFFIX) is None


def test_strings_are_escaped_exactly_as_json_requires() -> None:
    table = pa.table({"Name": ['a"b\\c\x01\n']})
    line = bytes(record_lines(table, PREFIX, SUFFIX))
    assert b'"Name":"a\\"b\\\\c\\u0001\\n"' in line
    assert json.loads(line)["record"] == {"Name": 'a"b\\c\x01\n'}
