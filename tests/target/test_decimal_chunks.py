"""Decimal columns on the chunk path (``decimal_guard``): checked in bulk, never more lenient.

The per-record path (``StreamSchema.check`` then ``to_table``) is the reference: a chunk the chunk
path converts must be one the reference accepts whole, landing equal values; and the values a
real org sends (``8400.0``, ``100.0`` in a percent(3, 0), ``1.4412E7``) must stay on the chunk
path, with no per-value pass.
"""

from __future__ import annotations

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from target_events.errors import InputError
from target_events.ingest.arrow import StreamSchema
from target_events.ingest.checks import InvalidRecord
from target_events.ingest.json_chunks import ChunkConverter, decode_json


def _decimal(precision: int, scale: int) -> dict:
    bound = 10 ** (precision - scale)
    return {
        "type": ["number", "null"],
        "multipleOf": 10**-scale if scale else 1,
        "exclusiveMinimum": -bound,
        "exclusiveMaximum": bound,
    }


def _converter(precision: int, scale: int) -> tuple[StreamSchema, ChunkConverter]:
    schema = StreamSchema.from_json_schema(
        {
            "type": "object",
            "properties": {
                "Id": {"type": "string"},
                "Amount": _decimal(precision, scale),
                "Address": {
                    "type": ["object", "null"],
                    "properties": {"Latitude": _decimal(precision, scale)},
                },
            },
        }
    )
    assert pa.types.is_decimal(schema.arrow.field("Amount").type)
    converter = ChunkConverter.for_schema(schema.properties, schema.arrow, ["Id"])
    assert converter is not None
    return schema, converter


def _reference(schema: StreamSchema, raws: list[bytes]) -> pa.Table | None:
    """The per-record path's table, or None when it refuses any record (or line)."""
    try:
        records = [decode_json(raw, 0) for raw in raws]
        for record in records:
            schema.check(record)
    except (InvalidRecord, InputError):
        return None
    return schema.to_table(records)


DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=20)
NUMBER_TEXT = st.one_of(
    st.builds(lambda w, f: f"{w}.{f}", DIGITS, DIGITS),  # plain, trailing zeros too
    DIGITS,
    st.builds(
        lambda m, f, e: f"{m}.{f}E{e}", st.sampled_from("123456789"), DIGITS, st.integers(-40, 40)
    ),
    st.builds(lambda m, e: f"{m}e{e}", DIGITS, st.integers(-5, 5)),
)
VALUE_TEXT = st.one_of(
    st.just("null"),
    NUMBER_TEXT,
    st.builds(lambda t: f"-{t}", NUMBER_TEXT),
    st.builds(lambda t: f'"{t}"', NUMBER_TEXT),  # a string of digits: refused by the check
    st.sampled_from(["true", '""', "[]", "{}"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    precision=st.integers(1, 30),  # the bounds a tap states (10^(p-s) < 10^38) in a double
    scale_share=st.integers(0, 30),
    values=st.lists(st.tuples(VALUE_TEXT, VALUE_TEXT), min_size=1, max_size=6),
)
def test_given_any_decimal_text_then_the_chunk_path_lands_what_the_per_record_path_lands(
    precision: int, scale_share: int, values: list[tuple[str, str]]
) -> None:
    scale = scale_share % precision  # at least one digit before the point, as Salesforce has
    schema, converter = _converter(precision, scale)
    raws = [
        f'{{"Id": "r{i}", "Amount": {amount}, "Address": {{"Latitude": {latitude}}}}}'.encode()
        for i, (amount, latitude) in enumerate(values)
    ]
    expected = _reference(schema, raws)
    by_records = converter.convert(raws)
    if by_records is not None:
        assert expected is not None, "the chunk path took what the per-record check refuses"
        assert by_records.equals(expected)
    block = b"".join(b'{"type": "RECORD", "stream": "s", "record": ' + raw + b"}\n" for raw in raws)
    by_lines = converter.convert_messages(block, len(raws))
    if by_lines is not None:
        assert expected is not None, "the chunk path took what the per-record check refuses"
        assert by_lines.equals(expected)


def test_given_values_as_a_real_org_writes_them_then_the_chunk_stays_in_arrow() -> None:
    """Currency(18, 2) and percent(3, 0) values as Java prints doubles: no per-value pass."""
    schema, amounts = _converter(18, 2)
    sent = ["8400.0", "1.441209288E7", "0.0", "9.876543210987654E15", "-250.5", "null"]
    raws = [f'{{"Id": "r{i}", "Amount": {v}}}'.encode() for i, v in enumerate(sent)]
    assert not amounts._guard.unsure(b"\n".join(raws))
    table = amounts.convert(raws)
    assert table is not None
    assert table.equals(_reference(schema, raws))
    assert [None if v is None else str(v) for v in table["Amount"].to_pylist()] == [
        "8400.00",
        "14412092.88",
        "0.00",
        "9876543210987654.00",
        "-250.50",
        None,
    ]
    percent_schema, percents = _converter(3, 0)
    probabilities = [b'{"Id": "p", "Amount": 100.0}', b'{"Id": "q", "Amount": 10.0}']
    assert not percents._guard.unsure(b"\n".join(probabilities))
    landed = percents.convert(probabilities)
    assert landed is not None
    assert landed.equals(_reference(percent_schema, probabilities))
    # What the guard exists for: a string of digits, and an exponent form too large for the type.
    assert amounts._guard.unsure(b'{"Id": "s", "Amount": "8400"}')
    assert amounts.convert([b'{"Id": "s", "Amount": "8400"}']) is None
    assert amounts.convert([b'{"Id": "e", "Amount": 1.5E30}']) is None


def test_given_a_decimal_key_spelled_with_escapes_then_the_guard_is_unsure() -> None:
    """A key the scan cannot see (``\\u`` escapes) sends the chunk value by value; other escapes
    (a street's line break) leave it in Arrow."""
    _, amounts = _converter(18, 2)
    assert amounts._guard.unsure(b'{"Id": "s", "Am\\u006funt": "8400"}')
    assert amounts._guard.unsure(b'{"Id": "s", "Note": "C:\\\\users", "Amount": 1.0}')
    assert not amounts._guard.unsure(b'{"Id": "s", "Street": "1 Main\\nSuite 2", "Amount": 1.0}')
    assert amounts.convert([b'{"Id": "s", "Am\\u006funt": "8400"}']) is None
