"""The chunk converter against the per-record path it shortcuts (differential, hypothesis).

Whatever the raw records, when ``ChunkConverter.convert`` returns a table, every record must be one
the per-record path accepts (compiled check, keys present) and the table must equal what that path
builds from the decoded records. When it declines (None), the per-record path decides; so the fast
path can never accept a bad record or land a different value.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import msgspec
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_events.ingest.arrow import InvalidRecord, StreamSchema
from target_events.ingest.json_chunks import ChunkConverter, decode_json

PROPERTIES = {
    "Id": {"type": "string"},
    "n": {"type": ["integer", "null"]},
    "x": {"type": ["number", "null"]},
    "at": {"type": ["string", "null"], "format": "date-time"},
    "day": {"type": ["string", "null"], "format": "date"},
    "ok": {"type": ["boolean", "null"]},
    "name": {"type": ["string", "null"]},
}
KEYS = ("Id",)
SCHEMA = StreamSchema.from_json_schema({"properties": PROPERTIES})

ZONED = st.datetimes(timezones=st.just(dt.timezone.utc))
VALID_VALUES = {
    "n": st.none() | st.integers(-(2**63), 2**63 - 1),
    "x": st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**53), 2**53),
    "at": st.none()
    | ZONED.map(lambda d: d.isoformat())
    | ZONED.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    "day": st.none() | st.dates().map(lambda d: d.isoformat()),
    "ok": st.none() | st.booleans(),
    "name": st.none() | st.text(max_size=20),
}
VALID = st.fixed_dictionaries({"Id": st.text(min_size=1, max_size=10)}, optional=VALID_VALUES)
# Values the per-record path refuses or reads its own way; Arrow's cast takes some of them.
ODD_TEXT = st.sampled_from(
    [
        "2025-01-01T00Z",
        "2025-01-01T00:00:00+01",
        "2025-01-01T00:00:00",
        "2025-01-01",
        "2025-01-01T00:00:00Z\n",
        "2025-13-40T00:00:00Z",
        "yesterday",
        "",
        "5",
        "true",
    ]
)
ODD_VALUES = (
    ODD_TEXT
    | st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
MUTANTS = st.tuples(VALID, st.sampled_from([*PROPERTIES, "extra"]), ODD_VALUES).map(
    lambda t: {**t[0], t[1]: t[2]}
)
KEYLESS = VALID.map(lambda r: {k: v for k, v in r.items() if k != "Id"})
RECORDS = st.one_of(VALID, VALID, VALID, MUTANTS, KEYLESS)
RAW_VARIANTS = st.sampled_from(
    [
        b'{"Id": "dup", "Id": "twice"}',
        b'{"Id": "bad-utf8 \xff"}',
        b'{"Id": "lone \\ud800 surrogate"}',
        b'{"Id": "big", "x": 1e999}',
        b'{"Id": "tab\\tand\\u00e9", "name": "\\/slash"}',
        b'{"Id": "ws"  ,\r"n" : 1 }',
        b"[1, 2]",
        b'"text"',
        b"",  # a RECORD without its record: Arrow would skip the empty line
    ]
)


def _per_record(raws: list[bytes]) -> pa.Table | None:
    """What the per-record path makes of the chunk, or None when it would refuse a record."""
    records = []
    for raw in raws:
        try:
            record = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            return None
        if not isinstance(record, dict) or any(k not in record for k in KEYS):
            return None
        try:
            SCHEMA.check(record)
        except InvalidRecord:
            return None
        records.append(record)
    try:
        return SCHEMA.to_table(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError):
        return None


@settings(max_examples=400, deadline=None)
@given(
    records=st.lists(st.one_of(RECORDS, RECORDS, RAW_VARIANTS), min_size=1, max_size=6),
)
@example(records=[{"Id": "a"}, b""])
@example(records=[{"Id": "a", "at": "2025-01-01T00Z"}])
@example(records=[{"Id": "0", "x": 9007199254740993}])  # found by CI: 2**53 + 1, stored rounded
@example(records=[{"Id": "0", "x": 10**400}])  # no double holds it: refused by both paths
def test_a_converted_chunk_equals_the_per_record_result(records: list) -> None:
    converter = ChunkConverter.for_schema(SCHEMA.properties, SCHEMA.arrow, KEYS)
    assert converter is not None
    raws = [r if isinstance(r, bytes) else json.dumps(r).encode() for r in records]
    fast = converter.convert(raws)
    if fast is None:
        return  # declined: the per-record path decides, so nothing can differ
    exact = _per_record(raws)
    assert exact is not None, f"the fast path accepted what the per-record path refuses: {raws}"
    assert fast.equals(exact), (fast.to_pylist(), exact.to_pylist())


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.one_of(RECORDS, RECORDS, RAW_VARIANTS), min_size=1, max_size=6))
@example(records=[{"Id": "a"}, b""])
def test_whole_record_lines_convert_like_their_record_objects(records: list) -> None:
    """A run of RECORD lines (the reader's fast path) converts exactly as its record objects."""
    converter = ChunkConverter.for_schema(SCHEMA.properties, SCHEMA.arrow, KEYS)
    assert converter is not None
    raws = [r if isinstance(r, bytes) else json.dumps(r).encode() for r in records]
    lines = b"".join(
        b'{"type": "RECORD", "stream": "s", "record": '
        + raw
        + b', "time_extracted": "2026-11-23T00:00:00Z", "version": 3}\n'
        for raw in raws
    )
    by_lines = converter.convert_messages(lines, len(raws))
    by_records = converter.convert(raws)
    assert (by_lines is None) == (by_records is None), raws
    if by_lines is not None:
        assert by_lines.equals(by_records)


def test_a_line_giving_its_stream_or_type_twice_is_declined() -> None:
    """The reader routes a run by the first "stream"; msgspec, per line, takes the last one."""
    converter = ChunkConverter.for_schema(SCHEMA.properties, SCHEMA.arrow, KEYS)
    assert converter is not None
    for tail in (b', "stream": "other"', b', "type": "STATE"'):
        line = b'{"type": "RECORD", "stream": "s", "record": {"Id": "a"}' + tail + b"}\n"
        assert converter.convert_messages(line * 2, 2) is None
    clean = b'{"type": "RECORD", "stream": "s", "record": {"Id": "a"}}\n'
    assert converter.convert_messages(clean * 2, 2) is not None


def test_salesforce_shaped_records_take_the_fast_path() -> None:
    """The point of the converter: clean records are converted, not declined."""
    converter = ChunkConverter.for_schema(SCHEMA.properties, SCHEMA.arrow, KEYS)
    assert converter is not None
    raws = [
        json.dumps(
            {
                "Id": f"0178d00000000{i:02d}AAA",
                "n": i,
                "x": i / 3,
                "at": "2025-06-11T23:14:35.000Z",
                "day": "2025-06-11",
                "ok": i % 2 == 0,
                "name": None if i % 3 else "Ünïcode",
            }
        ).encode()
        for i in range(50)
    ]
    table = converter.convert(raws)
    assert table is not None
    assert table.equals(SCHEMA.to_table([json.loads(r) for r in raws]))


NESTED_PROPERTIES = {
    "Id": {"type": "string"},
    "address": {
        "type": ["object", "null"],
        "properties": {
            "street": {"type": ["string", "null"]},
            "latitude": {"type": ["number", "null"]},
            "verified_at": {"type": ["string", "null"], "format": "date-time"},
            "extra": {"type": ["object", "null"]},
        },
    },
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "seen": {"type": ["array", "null"], "items": {"type": "string", "format": "date-time"}},
    "lines": {
        "type": ["array", "null"],
        "items": {"type": "object", "properties": {"n": {"type": ["integer", "null"]}}},
    },
    "amount": {"type": ["number", "null"], "multipleOf": 0.01},
    "mixed": {"type": ["string", "integer", "null"]},
    "meta": {"type": ["object", "null"]},
}
NESTED = StreamSchema.from_json_schema({"properties": NESTED_PROPERTIES})
STAMP = ZONED.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)
NESTED_VALUES = {
    "address": st.none()
    | st.fixed_dictionaries(
        {},
        optional={
            "street": st.none() | st.text(max_size=8),
            "latitude": st.none() | st.floats(-90, 90),
            "verified_at": st.none() | STAMP,
            "extra": st.none() | st.dictionaries(st.text(max_size=3), JSONISH, max_size=2),
        },
    ),
    "tags": st.none() | st.lists(st.none() | st.text(max_size=5), max_size=3),
    "seen": st.none() | st.lists(STAMP, max_size=2),
    "lines": st.none()
    | st.lists(
        st.none() | st.fixed_dictionaries({}, optional={"n": st.none() | st.integers(-5, 5)}),
        max_size=2,
    ),
    "amount": st.none() | st.integers(-(10**6), 10**6).map(lambda c: c / 100),
    "mixed": st.none() | st.text(max_size=4) | st.integers(-9, 9),
    "meta": st.none() | st.dictionaries(st.text(max_size=3), JSONISH, max_size=3),
}
NESTED_VALID = st.fixed_dictionaries(
    {"Id": st.text(min_size=1, max_size=6)}, optional=NESTED_VALUES
)
NESTED_MUTANTS = st.tuples(
    NESTED_VALID, st.sampled_from([*NESTED_PROPERTIES, "extra"]), ODD_VALUES | JSONISH
).map(lambda t: {**t[0], t[1]: t[2]})
NESTED_RECORDS = st.one_of(NESTED_VALID, NESTED_VALID, NESTED_MUTANTS)


def _nested_per_record(
    raws: list[bytes], decode: Callable[[bytes], Any] = msgspec.json.decode
) -> pa.Table | None:
    records = []
    for raw in raws:
        record = decode(raw)
        if "Id" not in record:
            return None
        try:
            NESTED.check(record)
        except InvalidRecord:
            return None
        records.append(record)
    try:
        return NESTED.to_table(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
        return None


@settings(max_examples=300, deadline=None)
@given(records=st.lists(NESTED_RECORDS, min_size=1, max_size=5))
@example(records=[{"Id": "a", "address": None}, {"Id": "b", "address": {"extra": {"k": [1]}}}])
@example(records=[{"Id": "a", "meta": "not an object"}])
@example(records=[{"Id": "a", "amount": 1.005}])
@example(records=[{"Id": "0", "amount": 2.225073858507e-311}])  # found by CI: Arrow rounds it
def test_nested_decimal_and_json_text_shapes_convert_like_the_per_record_path(
    records: list,
) -> None:
    """Structs (with an open object inside), lists of scalars, dates and structs, decimals,
    mixed types and open objects: what the chunk path lands equals the per-record path's."""
    converter = ChunkConverter.for_schema(NESTED.properties, NESTED.arrow, KEYS)
    assert converter is not None
    raws = [json.dumps(r).encode() for r in records]
    fast = converter.convert(raws)
    lines = b"".join(b'{"type": "RECORD", "stream": "s", "record": ' + r + b"}\n" for r in raws)
    by_lines = converter.convert_messages(lines, len(raws))
    assert (by_lines is None) == (fast is None)
    if fast is None:
        return
    assert by_lines is not None
    assert by_lines.equals(fast)
    exact = _nested_per_record(raws)
    assert exact is not None, f"the fast path accepted what the per-record path refuses: {raws}"
    assert fast.equals(exact), (fast.to_pylist(), exact.to_pylist())


def test_compound_fields_take_the_fast_path() -> None:
    """Account's BillingAddress, micro_decision_events' context: no longer per record."""
    converter = ChunkConverter.for_schema(NESTED.properties, NESTED.arrow, KEYS)
    assert converter is not None
    records = [
        {
            "Id": f"001{i:03d}",
            "address": {"street": "1 Main St", "latitude": 1.5, "extra": {"k": i}},
            "tags": ["a", "b"],
            "amount": 12.34,
            "meta": {"z": 1, "a": [1, 2]},
        }
        for i in range(20)
    ]
    table = converter.convert([json.dumps(r).encode() for r in records])
    assert table is not None
    assert table.equals(NESTED.to_table(records))


def test_repeated_open_objects_and_an_undeclared_key_land_as_record_by_record() -> None:
    """Open objects whose text repeats (made once per chunk) and one spelled differently land as
    the per-record path lands them; a key the schema does not declare is still named."""
    named: list[list[str]] = []
    converter = ChunkConverter.for_schema(NESTED.properties, NESTED.arrow, KEYS, named.append)
    assert converter is not None
    records = [
        {"Id": f"{i}", "address": {"extra": {"k": 1.5}}, "meta": {"b": [1], "a": None}}
        for i in range(5)
    ]
    raws = [json.dumps(r).encode() for r in records]
    raws.append(b'{"Id":"5","meta":{"a":null,"b":[1]},"mixed":"x","address":null}')
    raws.append(b'{"Id":"6","meta":{"b":[1]},"mixed":7,"surprise":{"k":1}}')
    table = converter.convert(raws)
    assert table is not None
    assert named == [["surprise"]]
    expected = _nested_per_record([raw.replace(b',"surprise":{"k":1}', b"") for raw in raws])
    assert expected is not None
    assert table.equals(expected), (table.to_pylist(), expected.to_pylist())
    assert table["meta"].to_pylist()[:2] == ['{"a": null, "b": [1]}'] * 2


NUMBER_TEXT = (
    st.floats(allow_nan=False, allow_infinity=False).map(repr)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.integers().map(str)
    | st.sampled_from(["1E5", "1e400", "-1e400", "2.5e-324", "1.0000000000000000000001", "-0.0"])
)


@settings(max_examples=200, deadline=None)
@given(numbers=st.lists(NUMBER_TEXT, min_size=1, max_size=4))
def test_numbers_inside_open_objects_land_as_record_by_record(numbers: list[str]) -> None:
    """Open objects are decoded with floats by the chunk path and with exact Decimals by the
    per-record path: their JSON text is the same either way (when the chunk path takes them)."""
    converter = ChunkConverter.for_schema(NESTED.properties, NESTED.arrow, KEYS)
    assert converter is not None
    raws = [
        f'{{"Id":"{i}","meta":{{"n":{n},"l":[{n}]}},"address":{{"extra":{{"k":{n}}}}}}}'.encode()
        for i, n in enumerate(numbers)
    ]
    fast = converter.convert(raws)
    lines = b"".join(b'{"type":"RECORD","stream":"s","record":' + r + b"}\n" for r in raws)
    by_lines = converter.convert_messages(lines, len(raws))
    expected = _nested_per_record(raws, lambda raw: decode_json(raw, 1))  # as the target decodes
    assert expected is not None
    assert (fast is None) == (by_lines is None)
    for table in (fast, by_lines):
        if table is not None:  # Arrow's reader refuses 1e400 anywhere: then every line decides
            assert table.equals(expected), (table.to_pylist(), expected.to_pylist())


def test_json_text_inside_a_list_keeps_the_per_record_path() -> None:
    spec = {"type": ["array", "null"], "items": {"type": "object"}}
    schema = StreamSchema.from_json_schema({"properties": {"Id": {"type": "string"}, "v": spec}})
    assert ChunkConverter.for_schema(schema.properties, schema.arrow, KEYS) is None
