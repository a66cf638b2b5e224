"""The compiled per-record check: what generic JSON Schema validation would refuse, and what no
column can store (an integer past 64 bits, a day the calendar lacks, a decimal wider than its
precision), worded with the field so the error can name the stream, field and input line.

Built once per SCHEMA message; ~10x cheaper than jsonschema per record. The chunk path
(``json_chunks``) runs the same patterns (by RE2) so it never accepts what this refuses.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Callable

from .json_schema import (
    decimal_digits,
    is_closed_object,
    json_kinds,
    non_null_kinds,
    numbers_as_floats,
)

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


class InvalidRecord(ValueError):
    """A record that does not fit its stream's schema."""


def compile_checks(properties: dict[str, dict]) -> Callable[[dict], None]:
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
    text = json.dumps(numbers_as_floats(value), default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _value_check(schema: dict) -> Callable[[object], str | None]:
    kinds = non_null_kinds(schema)
    if "null" not in json_kinds(schema) and kinds:
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
        digits = decimal_digits(schema)
        if digits is not None:  # stored as decimal128(precision, scale), as arrow_type says
            precision, scale = digits
            return lambda v: decimal_problem(v, precision, scale)
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
        if is_closed_object(schema):
            inner = compile_checks(schema["properties"])

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


def decimal_problem(value: object, precision: int, scale: int) -> str | None:
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
