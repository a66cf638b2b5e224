"""JSON Schema -> Arrow, built once per SCHEMA message; records -> typed Arrow tables.

Typing rules: date-time strings -> timestamp[us, UTC]; date -> date32; integer -> int64; number ->
float64, or decimal128 when the schema states a scale (``multipleOf`` 0.01, or ``x-sf-scale``), its
precision from ``x-sf-precision`` or an ``exclusiveMaximum`` of 10^(precision - scale), else 38;
boolean -> bool; objects with declared properties -> struct; open objects and mixed types -> JSON
text; arrays -> list. A compiled per-record check replaces generic JSON Schema validation, so a bad
value is reported with its field and the input line, at a fraction of the cost.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from .checks import InvalidRecord, compile_checks
from .json_schema import decimal_digits, is_closed_object, json_text, non_null_kinds

__all__ = ["TIMESTAMP", "InvalidRecord", "StreamSchema", "arrow_type", "column_from_values"]

TIMESTAMP = pa.timestamp("us", tz="UTC")


def arrow_type(schema: dict) -> pa.DataType:
    """The stored Arrow type of one JSON Schema property."""
    kinds = non_null_kinds(schema)
    if len(kinds) != 1:
        return pa.string()  # mixed or untyped values keep their JSON text
    kind = kinds[0]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return TIMESTAMP
        if fmt == "date":
            return pa.date32()
        return pa.string()
    if kind == "integer":
        return pa.int64()
    if kind == "number":
        digits = decimal_digits(schema)
        return pa.float64() if digits is None else pa.decimal128(*digits)
    if kind == "boolean":
        return pa.bool_()
    if kind == "object":
        if is_closed_object(schema):
            return pa.struct([pa.field(k, arrow_type(v)) for k, v in schema["properties"].items()])
        return pa.string()
    if kind == "array":
        items = schema.get("items") or {}
        return pa.list_(arrow_type(items) if items else pa.string())
    return pa.string()


@dataclass(frozen=True)
class StreamSchema:
    """Everything derived once from a SCHEMA message."""

    properties: dict[str, dict]
    arrow: pa.Schema
    check: Callable[[dict], None]
    fingerprint: str

    @classmethod
    def from_json_schema(cls, schema: dict) -> StreamSchema:
        properties = dict(schema.get("properties") or {})
        arrow = pa.schema([pa.field(name, arrow_type(spec)) for name, spec in properties.items()])
        fingerprint = hashlib.sha256(str(arrow).encode()).hexdigest()[:16]
        return cls(properties, arrow, compile_checks(properties), fingerprint)

    def to_table(self, records: list[dict]) -> pa.Table:
        """Typed table of validated records (values converted column by column in Arrow)."""
        columns = []
        for field in self.arrow:
            values = [r.get(field.name) for r in records]
            columns.append(_column(values, field.type))
        return pa.Table.from_arrays(columns, schema=self.arrow)


def column_from_values(values: list, target: pa.DataType) -> pa.Array:
    """Python values (as a RECORD would carry them) as an Arrow column of the target type."""
    return _column(values, target)


def _column(values: list, target: pa.DataType) -> pa.Array:
    if target == TIMESTAMP:
        try:
            return pa.array(values, type=pa.string()).cast(TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # no zone, or datetimes already: UTC
            return pa.array([_parse_datetime(v) for v in values], type=TIMESTAMP)
    if pa.types.is_date32(target):
        return pa.array(values, type=pa.string()).cast(target)
    if pa.types.is_decimal(target):
        return pa.array(
            [None if v is None else decimal.Decimal(str(v)) for v in values],
            type=pa.decimal128(38, target.scale),
        ).cast(target)
    if target == pa.string():
        return pa.array(
            [v if v is None or isinstance(v, str) else json_text(v) for v in values],
            type=pa.string(),
        )
    if pa.types.is_struct(target):
        # Child by child, so a null struct's empty slots never reach a timestamp cast.
        rows = [v if isinstance(v, dict) else None for v in values]
        children = [
            _column([None if r is None else r.get(f.name) for r in rows], f.type) for f in target
        ]
        mask = pa.array([r is None for r in rows], type=pa.bool_())
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_list(target):
        return pa.array([_nested(v, target) for v in values], type=_input_type(target)).cast(target)
    if pa.types.is_floating(target):
        # An integer past 2**53 is a number like any other: stored rounded, as a JSON reader
        # would (Arrow refuses to round Python ints itself); a decoded Decimal likewise.
        return pa.array(
            [float(v) if type(v) is int or type(v) is decimal.Decimal else v for v in values],
            type=target,
        )
    return pa.array(values, type=target)


def _input_type(target: pa.DataType) -> pa.DataType:
    """Nested values arrive as JSON text for timestamps/dates/decimals; cast after building."""
    if target == TIMESTAMP or pa.types.is_date32(target):
        return pa.string()
    if pa.types.is_decimal(target):
        return pa.float64()
    if pa.types.is_struct(target):
        return pa.struct([pa.field(f.name, _input_type(f.type)) for f in target])
    if pa.types.is_list(target):
        return pa.list_(_input_type(target.value_type))
    return target


def _nested(value: object, target: pa.DataType) -> object:
    """Shape a nested value for its input type: open objects inside become JSON text."""
    if value is None:
        return None
    if pa.types.is_struct(target):
        if not isinstance(value, dict):
            return value
        return {f.name: _nested(value.get(f.name), f.type) for f in target}
    if pa.types.is_list(target):
        return (
            [_nested(item, target.value_type) for item in value]
            if isinstance(value, list)
            else value
        )
    if target == pa.string() and not isinstance(value, str):
        return json_text(value)
    if pa.types.is_decimal(target):
        return float(value)  # type: ignore[arg-type]
    return value


def _parse_datetime(value: object) -> dt.datetime | None:
    if value is None:
        return None
    parsed = (
        value
        if isinstance(value, dt.datetime)
        else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
