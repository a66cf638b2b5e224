"""The page-at-once event derivation (``event_tables``) against the dict rules of ``events.py``.

Differential (hypothesis): for every row rule, whatever the page holds (nulls, empty texts,
booleans and numbers in OldValue/NewValue, optional columns missing, actors unknown to the org,
ids of unknown key prefixes) and whatever ``record_types`` selects, the event table must hold
exactly the dicts the rules derive: the same values of the same types, keys in the same order,
and the same RECORD line values (``record_lines``) and Parquet batch values (``batch_table``:
``metadata`` as the JSON text ``open_object_encoder`` writes) as the dict path gives.
"""

from __future__ import annotations

import copy
import decimal

import msgspec
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_salesforce_temporal.discovery.schema import FieldInfo, ObjectSchema
from tap_salesforce_temporal.event_tables import batch_table, of_record_types
from tap_salesforce_temporal.events import EVENT_SCHEMA, Derivation
from tap_salesforce_temporal.output.batches import open_object_encoder
from tap_salesforce_temporal.output.record_lines import record_lines
from tap_salesforce_temporal.streams.sources import (
    ACTIVITY_FIELDS,
    SETUP_FIELDS,
    STEP_FIELDS,
    Source,
    row_event_table,
    row_events,
)

D = Derivation(
    user_types={"005A": "Standard", "005B": "AutomatedProcess", "005C": "CloudIntegrationUser"},
    key_prefixes={"006": "Opportunity", "500": "Case", "001": "Account", "é12": "Odd"},
    org_id="00Dx",
    extracted_at="2025-01-01T00:00:00.000Z",
    extractor_version="test",
)
# As the tap's writer encodes a record dict (``writer.FastRecordWriter``): decimals as numbers.
ENCODE = msgspec.json.Encoder(decimal_format="number").encode
PREFIX = b'{"type":"RECORD","stream":"micro_decision_events","record":'
SUFFIX = b',"time_extracted":"2026-11-23T00:00:00Z"}\n'
HISTORY_FIELDS = ("Id", "AccountId", "Field", "DataType", "OldValue", "NewValue", "CreatedById")
HISTORY_FIELDS += ("CreatedDate",)
OPPORTUNITY_HISTORY = ("Id", "OpportunityId", *HISTORY_FIELDS[2:])


def _history_schema(name: str, parent: str) -> ObjectSchema:
    texts = ("Id", parent, "Field", "DataType", "OldValue", "NewValue", "CreatedById")
    fields = (
        *(FieldInfo(f, "anyType" if f.endswith("Value") else "string") for f in texts),
        FieldInfo("CreatedDate", "datetime"),
    )
    return ObjectSchema(
        name=name,
        fields=fields,
        skipped_fields=(),
        replication_key="CreatedDate",
        has_is_deleted=False,
        replicateable=True,
    )


SOURCES = {
    "AccountHistory": (
        Source("AccountHistory", "field_change", "CreatedDate", HISTORY_FIELDS, "Account"),
        _history_schema("AccountHistory", "AccountId"),
    ),
    "OpportunityFieldHistory": (
        Source("OpportunityFieldHistory", "field_change", "CreatedDate", OPPORTUNITY_HISTORY, None),
        _history_schema("OpportunityFieldHistory", "OpportunityId"),
    ),
    "ProcessInstanceStep": (
        Source("ProcessInstanceStep", "approval_decision", "CreatedDate", STEP_FIELDS, None),
        None,
    ),
    "Task": (Source("Task", "activity", "SystemModstamp", ACTIVITY_FIELDS["Task"], None), None),
    "Event": (Source("Event", "activity", "SystemModstamp", ACTIVITY_FIELDS["Event"], None), None),
    "SetupAuditTrail": (
        Source("SetupAuditTrail", "setup_change", "CreatedDate", SETUP_FIELDS, "Organization"),
        None,
    ),
}
REQUIRED = {"Id", "CreatedDate", "SystemModstamp"}
TEXT = st.none() | st.sampled_from(["", '"', "\\", "é€😀", "\x00\n", "\x7f"]) | st.text(max_size=5)
IDS = st.none() | st.sampled_from(["", "005A", "005B", "005C", "005Z", "006x1", "500y", "é12z"])
IDS |= st.sampled_from(["ab", "001", "0"])
STAMPS = st.sampled_from(["2025-01-01T00:00:00.000Z", "2025-03-04T05:06:07.890Z"])
# OldValue/NewValue as a page may type them: anyType is text, a typed column is not.
VALUE_TYPES = {
    "text": (pa.string(), TEXT),
    "float": (pa.float64(), st.none() | st.floats(allow_nan=False, allow_infinity=False)),
    "int": (pa.int64(), st.none() | st.integers(-(2**63), 2**63 - 1)),
    "bool": (pa.bool_(), st.none() | st.booleans()),
    "decimal": (
        pa.decimal128(18, 2),
        st.none() | st.decimals(-(10**15), 10**15, places=2, allow_nan=False),
    ),
}
SPECIAL = {
    "Field": st.none() | st.sampled_from(["StageName", "Amount", "", "Name"]),
    "StepStatus": st.none() | st.sampled_from(["Approved", "Rejected", "Pending", "Held", ""]),
    "IsClosed": st.none() | st.booleans(),
    "ElapsedTimeInDays": st.none() | st.floats(allow_nan=False, allow_infinity=False),
    "Id": st.sampled_from(["a1", "a2", "é", ""]),
    "CreatedDate": STAMPS,
    "SystemModstamp": STAMPS,
}
TYPES = {"IsClosed": pa.bool_(), "ElapsedTimeInDays": pa.float64()}


def _ids(name: str) -> bool:
    return (name.endswith("Id") and name != "Id") or name == "ProcessInstance.TargetObjectId"


@st.composite
def pages(draw: st.DrawFn) -> tuple[str, pa.Table]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    source, _ = SOURCES[name]
    value_kind = draw(st.sampled_from(sorted(VALUE_TYPES)))
    optional = [f for f in source.fields if f not in REQUIRED]
    missing = draw(st.sets(st.sampled_from(optional), max_size=3))
    size = draw(st.integers(0, 6))
    columns = {}
    for field in source.fields:
        if field in missing:
            continue
        if field in ("OldValue", "NewValue"):
            kind, values = VALUE_TYPES[value_kind]
        else:
            kind = TYPES.get(field, pa.string())
            values = SPECIAL[field] if field in SPECIAL else IDS if _ids(field) else TEXT
        columns[field] = pa.array(draw(st.lists(values, min_size=size, max_size=size)), kind)
    return name, pa.table(columns) if columns else pa.table({})


def _ordered(value: object) -> object:
    """Key order and JSON types made visible (1 and 1.0 and True compare equal in Python)."""
    if isinstance(value, dict):
        return [(k, _ordered(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_ordered(v) for v in value]
    return (type(value).__name__, value)


def _has_float(value: object) -> bool:
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


@settings(max_examples=400, deadline=None)
@given(
    page=pages(),
    record_types=st.sets(st.sampled_from(["Opportunity", "Case", "Account", "Organization"])),
)
def test_event_table_holds_the_events_the_dict_rules_derive(
    page: tuple[str, pa.Table], record_types: set[str]
) -> None:
    name, rows = page
    source, schema = SOURCES[name]
    schema = schema or _history_schema(name, "AccountId")
    expected = list(row_events(source, schema, rows.to_pylist(), D))
    table = row_event_table(source, schema, rows, D)
    if record_types:
        expected = [e for e in expected if e["record_type"] in record_types]
        table = of_record_types(table, frozenset(record_types))

    assert _ordered(table.to_pylist()) == _ordered(expected)

    lines = record_lines(table, PREFIX, SUFFIX)
    assert lines is not None
    want = b"".join(PREFIX + ENCODE(e) + SUFFIX for e in expected)
    decode = msgspec.json.decode
    assert [_ordered(decode(line)) for line in bytes(lines).splitlines()] == [
        _ordered(decode(line)) for line in want.splitlines()
    ]
    if not _has_float(expected):
        assert bytes(lines) == want  # floats aside (Arrow's 1e+20, msgspec's 1e20): the bytes

    encode = open_object_encoder(EVENT_SCHEMA)
    batch = [encode(copy.deepcopy(e)) for e in expected]
    assert _ordered(batch_table(table).to_pylist()) == _ordered(batch)


def test_a_missing_required_column_fails_as_the_rule_does() -> None:
    source, _ = SOURCES["SetupAuditTrail"]
    rows = pa.table({"Id": ["x"]})
    schema = _history_schema("SetupAuditTrail", "AccountId")
    with pytest.raises(KeyError):
        list(row_events(source, schema, rows.to_pylist(), D))
    with pytest.raises(KeyError):
        row_event_table(source, schema, rows, D)


def test_decimal_metadata_is_a_json_number_in_batch_files() -> None:
    source, _ = SOURCES["ProcessInstanceStep"]
    rows = pa.table(
        {
            "Id": ["s1"],
            "CreatedDate": ["2025-01-01T00:00:00.000Z"],
            "ElapsedTimeInDays": pa.array([decimal.Decimal("2.50")], pa.decimal128(10, 2)),
        }
    )
    schema = _history_schema("ProcessInstanceStep", "AccountId")
    table = batch_table(row_event_table(source, schema, rows, D))
    metadata = table["context"][0].as_py()["metadata"]
    assert '"elapsed_days": 2.5' in metadata
