"""Stage changes a page at once (``stage_tables``) against ``StageTracker.events`` on dicts.

Differential (hypothesis): pages of OpportunityHistory snapshots in (CreatedDate, Id) order,
the tracker seeded from snapshots before the window or not, stages repeated, null or empty,
metadata columns missing or exact decimals: the table walk must give the dict walk's events
(values, types, key order, RECORD line values, batch values) and leave the tracker as it does.
"""

from __future__ import annotations

import copy
import decimal

import msgspec
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_salesforce_temporal.event_tables import batch_table
from tap_salesforce_temporal.events import EVENT_SCHEMA, Derivation, StageTracker
from tap_salesforce_temporal.output.batches import open_object_encoder
from tap_salesforce_temporal.output.record_lines import record_lines
from tap_salesforce_temporal.stage_tables import stage_change_table

D = Derivation(
    user_types={"005A": "Standard", "005B": "AutomatedProcess"},
    key_prefixes={"006": "Opportunity"},
    org_id="00Dx",
    extracted_at="2025-01-01T00:00:00.000Z",
    extractor_version="test",
)
# As the tap's writer encodes a record dict (``writer.FastRecordWriter``): decimals as numbers.
ENCODE = msgspec.json.Encoder(decimal_format="number").encode
PREFIX = b'{"type":"RECORD","stream":"micro_decision_events","record":'
SUFFIX = b"}\n"
STAMPS = [
    f"2025-0{m}-0{d}T0{h}:00:00.{ms:03d}Z"
    for m in (1, 2)
    for d in (1, 5)
    for h in (0, 7)
    for ms in (0, 250)
]
OPTIONAL = ("StageName", "Amount", "Probability", "CloseDate", "ForecastCategory")
OPTIONAL += ("ExpectedRevenue", "CreatedById")
MONEY = pa.decimal128(18, 2)
COLUMNS = {
    "Id": (pa.string(), st.sampled_from(["h1", "h2", "h3"])),
    "OpportunityId": (pa.string(), st.sampled_from(["006A", "006B", "006C", ""])),
    "StageName": (pa.string(), st.none() | st.sampled_from(["Prospecting", "Won", "", "é"])),
    "Amount": (MONEY, st.none() | st.decimals(-(10**6), 10**6, places=2, allow_nan=False)),
    "Probability": (pa.float64(), st.none() | st.floats(0, 100)),
    "CloseDate": (pa.string(), st.none() | st.just("2025-03-01")),
    "ForecastCategory": (pa.string(), st.none() | st.sampled_from(["Pipeline", '"x\\'])),
    "ExpectedRevenue": (MONEY, st.none() | st.decimals(0, 10**6, places=2, allow_nan=False)),
    "CreatedById": (pa.string(), st.none() | st.sampled_from(["005A", "005B", "005Z", ""])),
}


@st.composite
def snapshots(draw: st.DrawFn, missing: frozenset[str]) -> pa.Table:
    size = draw(st.integers(0, 8))
    stamps = sorted(draw(st.lists(st.sampled_from(STAMPS), min_size=size, max_size=size)))
    columns = {"CreatedDate": pa.array(stamps, pa.string())}
    for name, (kind, values) in COLUMNS.items():
        if name not in missing:
            drawn = draw(st.lists(values, min_size=size, max_size=size))
            columns[name] = pa.array(drawn, kind)
    return pa.table(columns)


@st.composite
def walks(draw: st.DrawFn) -> tuple[list[dict], list[pa.Table]]:
    missing = frozenset(draw(st.sets(st.sampled_from(OPTIONAL), max_size=3)))
    prior = draw(snapshots(frozenset(OPTIONAL)))
    pages = draw(st.lists(snapshots(missing), max_size=4))
    return prior.to_pylist(), pages


def _ordered(value: object) -> object:
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return (type(value).__name__, value)


@settings(max_examples=300, deadline=None)
@given(walk=walks())
def test_stage_change_table_walks_as_the_tracker_does(
    walk: tuple[list[dict], list[pa.Table]],
) -> None:
    prior, pages = walk
    by_dicts, by_tables = StageTracker(), StageTracker()
    by_dicts.seed(copy.deepcopy(prior))
    by_tables.seed(copy.deepcopy(prior))
    encode = open_object_encoder(EVENT_SCHEMA)
    decode = msgspec.json.decode
    for rows in pages:
        expected = list(by_dicts.events(rows.to_pylist(), D))
        table, positions = stage_change_table(by_tables, rows, D)
        assert _ordered(table.to_pylist()) == _ordered(expected)
        assert rows.take(positions)["Id"].to_pylist() == [
            e["context"]["source_record_id"] for e in expected
        ]
        lines = record_lines(table, PREFIX, SUFFIX)
        assert lines is not None
        want = b"".join(PREFIX + ENCODE(e) + SUFFIX for e in expected)
        assert [_ordered(decode(x)) for x in bytes(lines).splitlines()] == [
            _ordered(decode(x)) for x in want.splitlines()
        ]
        batch = [encode(copy.deepcopy(e)) for e in expected]
        assert _ordered(batch_table(table).to_pylist()) == _ordered(batch)
        assert by_tables.states == by_dicts.states


def test_duration_counts_from_the_snapshot_that_entered_the_stage() -> None:
    tracker = StageTracker()
    rows = pa.table(
        {
            "Id": ["1", "2", "3"],
            "OpportunityId": ["006A"] * 3,
            "StageName": ["Prospecting", "Prospecting", "Won"],
            "CreatedDate": [
                "2025-01-01T00:00:00.000Z",
                "2025-01-02T00:00:00.000Z",
                "2025-01-04T12:00:00.000Z",
            ],
            "Amount": pa.array([decimal.Decimal("5.00")] * 3, MONEY),
        }
    )
    table, positions = stage_change_table(tracker, rows, D)
    assert positions.to_pylist() == [0, 2]
    assert table["context"].combine_chunks().field("stage_duration_days").to_pylist() == [None, 3.5]
