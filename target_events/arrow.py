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
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

# One pattern text for the per-record check and the chunk check of json_chunks (run by RE2).
DATETIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
# The same shape with its parts named: the pattern alone takes 2024-13-45 or T24:00, which no
# reader can store, so every part is also checked against the calendar and the clock.
_DATETIME_PARTS = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d{1,9})?)?)?"
    r"(?:Z|[+-](?P<zone_hour>\d{2}):?(?P<zone_minute>\d{2}))?$"
)
_DATE = re.compile(DATE_PATTERN)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
TIMESTAMP = pa.timestamp("us", tz="UTC")


class InvalidRecord(ValueError):
    """A record that does not fit its stream's schema."""


def _types(schema: dict) -> list[str]:
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:
        kinds: list[str] = []
        for option in schema["anyOf"]:
            kinds.extend(_types(option))
        return kinds
    if isinstance(kind, str):
        return [kind]
    return list(kind or [])


def non_null_kinds(schema: dict) -> list[str]:
    return [t for t in _types(schema) if t != "null"]


def _power_of_ten(value: object) -> int | None:
    """n when ``value`` is 10^n (JSON numbers may arrive as int, float or Decimal)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return None
    if not 0 < value < 10**38:
        return None
    exponent = math.log10(float(value))
    return round(exponent) if abs(exponent - round(exponent)) < 1e-9 else None


def _scale(schema: dict) -> int | None:
    if "x-sf-scale" in schema:
        return int(schema["x-sf-scale"])
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float, decimal.Decimal)) and 0 < multiple < 1:
        exponent = _power_of_ten(1 / multiple)
        if exponent is not None:
            return exponent
    if multiple == 1 and _integer_digits(schema) is not None:
        return 0  # a decimal(p, 0): multipleOf 1 with a power-of-ten bound
    return None


def _integer_digits(schema: dict) -> int | None:
    """Digits before the point from ``exclusiveMaximum`` 10^n, as tap-salesforce-temporal states
    a currency/percent field's precision (custom keywords do not survive singer-sdk's catalog)."""
    return _power_of_ten(schema.get("exclusiveMaximum"))


def _precision(schema: dict, scale: int) -> int:
    if schema.get("x-sf-precision"):
        return int(schema["x-sf-precision"])
    digits = _integer_digits(schema)
    return 38 if digits is None else min(38, digits + scale)


def _is_closed_object(schema: dict) -> bool:
    return bool(schema.get("properties")) and schema.get("additionalProperties") in (None, False)


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
        scale = _scale(schema)
        if scale is not None:
            precision = _precision(schema, scale)
            return pa.decimal128(max(precision, scale + 1), scale)
        return pa.float64()
    if kind == "boolean":
        return pa.bool_()
    if kind == "object":
        if _is_closed_object(schema):
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
        return cls(properties, arrow, _compile_checks(properties), fingerprint)

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


def json_text(value: object) -> str:
    """How an open object or a mixed-type value is stored: JSON text, keys sorted.

    Numbers are decoded exactly (Decimal); inside JSON text they are written as JSON numbers
    again, not as quoted strings.
    """
    return json.dumps(_numbers_as_floats(value), sort_keys=True, default=str)


def _numbers_as_floats(value: object) -> object:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    return value


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


# --- compiled checks ------------------------------------------------------------------------


def _compile_checks(properties: dict[str, dict]) -> Callable[[dict], None]:
    checks = [(name, _value_check(spec)) for name, spec in properties.items()]

    def check(record: dict) -> None:
        for name, value_check in checks:
            value = record.get(name)
            if value is not None:
                problem = value_check(value)
                if problem:
                    raise InvalidRecord(f"field '{name}' {problem}, got {_preview(value)}")

    return check


def _preview(value: object) -> str:
    text = json.dumps(_numbers_as_floats(value), default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _value_check(schema: dict) -> Callable[[object], str | None]:
    kinds = non_null_kinds(schema)
    if "null" not in _types(schema) and kinds:
        pass  # nulls are tolerated everywhere: taps emit them for missing values
    if len(kinds) != 1:
        return lambda value: None
    kind, fmt = kinds[0], schema.get("format")
    if kind == "string":
        if fmt == "date-time":
            return lambda v: None if is_datetime(v) else "expects an ISO-8601 date-time"
        if fmt == "date":
            return lambda v: (
                None
                if isinstance(v, str) and _DATE.match(v) and _real_date(v)
                else "expects a date YYYY-MM-DD"
            )
        return lambda v: None if isinstance(v, str) else "expects a string"
    if kind == "integer":
        return _integer_problem
    if kind == "number":
        stored = arrow_type(schema)
        if pa.types.is_decimal(stored):
            return lambda v: _decimal_problem(v, stored.precision, stored.scale)
        return lambda v: (
            None
            if isinstance(v, (int, float, decimal.Decimal))
            and not isinstance(v, bool)
            and _finite(v)
            else "expects a number"
        )
    if kind == "boolean":
        return lambda v: None if isinstance(v, bool) else "expects a boolean"
    if kind == "object":
        if _is_closed_object(schema):
            inner = _compile_checks(schema["properties"])

            def check_object(value: object) -> str | None:
                if not isinstance(value, dict):
                    return "expects an object"
                try:
                    inner(value)
                except InvalidRecord as error:
                    return f"has {error}"
                return None

            return check_object
        return lambda v: None if isinstance(v, dict) else "expects an object"
    if kind == "array":
        item_check = _value_check(schema.get("items") or {})

        def check_array(value: object) -> str | None:
            if not isinstance(value, list):
                return "expects an array"
            for item in value:
                if item is not None and (problem := item_check(item)):
                    return f"has an item that {problem}"
            return None

        return check_array
    return lambda value: None


def _integer_problem(value: object) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "expects an integer"
    return None if INT64_MIN <= value <= INT64_MAX else "expects a 64-bit integer"


def is_datetime(value: object) -> bool:
    """An ISO-8601 date-time that exists: a real calendar day, 00:00:00 to 23:59:59, a zone
    offset under 24 hours. What passes here converts to a timestamp."""
    if not isinstance(value, str):
        return False
    parts = _DATETIME_PARTS.match(value)
    if parts is None or not _real_date(parts["date"]):
        return False
    limits = (("hour", 23), ("minute", 59), ("second", 59), ("zone_hour", 23), ("zone_minute", 59))
    return all(parts[name] is None or int(parts[name]) <= limit for name, limit in limits)


def _real_date(text: str) -> bool:
    """YYYY-MM-DD names a day of the calendar (years 1 to 9999, as Arrow and Python store)."""
    try:
        dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def _decimal_problem(value: object, precision: int, scale: int) -> str | None:
    """None when the number is exact in decimal(precision, scale); rounding it would change it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return "expects a number"
    number = decimal.Decimal(str(value))
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity
        return "expects a number"
    kept = list(digits)
    while exponent < 0 and len(kept) > 1 and kept[-1] == 0:  # 1.50 is 1.5
        kept.pop()
        exponent += 1
    if not any(kept):
        return None
    fraction = max(0, -exponent)
    whole = max(0, len(kept) + exponent)
    if fraction > scale or whole > precision - scale:
        return (
            f"expects a decimal of at most {precision - scale} digits before the point"
            f" and {scale} after"
        )
    return None


def _finite(value: object) -> bool:
    """A double can hold it: no NaN or infinity, no integer past ~1.8e308."""
    if isinstance(value, (float, decimal.Decimal)):
        try:
            return math.isfinite(float(value))
        except (OverflowError, ValueError):
            return False
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            return False
    return True
