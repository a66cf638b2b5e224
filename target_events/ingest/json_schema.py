"""JSON Schema facts the target reads from a SCHEMA message: a property's JSON kinds, the scale
and precision of an exact decimal, whether an object is closed; and how an open object or a
mixed-type value is kept (JSON text). Pure functions, shared by the Arrow mapping and the checks.
"""

from __future__ import annotations

import decimal
import json
import math


def json_kinds(schema: dict) -> list[str]:
    """The JSON types a property allows, "null" included, from ``type`` or each ``anyOf`` option."""
    kind = schema.get("type")
    if kind is None and "anyOf" in schema:
        kinds: list[str] = []
        for option in schema["anyOf"]:
            kinds.extend(json_kinds(option))
        return kinds
    if isinstance(kind, str):
        return [kind]
    return list(kind or [])


def non_null_kinds(schema: dict) -> list[str]:
    return [t for t in json_kinds(schema) if t != "null"]


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


def decimal_digits(schema: dict) -> tuple[int, int] | None:
    """(precision, scale) of the decimal128 a number property is stored as; None for a double
    (no scale stated, or one decimal128 cannot hold: 38 digits at most)."""
    scale = _scale(schema)
    if scale is None or not 0 <= scale < 38:
        return None
    return min(38, max(_precision(schema, scale), scale + 1)), scale


def is_closed_object(schema: dict) -> bool:
    """An object with declared properties and no others: a struct, not JSON text."""
    return bool(schema.get("properties")) and schema.get("additionalProperties") in (None, False)


# What ``json.dumps(value, sort_keys=True, default=str)`` builds on every call, built once.
_TEXT = json.JSONEncoder(sort_keys=True, default=str)


def json_text(value: object) -> str:
    """How an open object or a mixed-type value is stored: JSON text, keys sorted.

    Numbers are decoded exactly (Decimal); inside JSON text they are written as JSON numbers
    again, not as quoted strings.
    """
    return _TEXT.encode(numbers_as_floats(value))


def plain_json_text(value: object) -> str:
    """``json_text`` of a value decoded with its numbers as floats (msgspec's default): the same
    text, without the walk that turns Decimals into floats."""
    return _TEXT.encode(value)


def numbers_as_floats(value: object) -> object:
    """``value`` with its exact Decimals as floats, so ``json.dumps`` writes them as numbers."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers_as_floats(v) for v in value]
    return value
