"""Decimal columns checked in bulk, so a chunk with decimals stays on Arrow's path.

Arrow's JSON reader, told a column is decimal, reads a number's text exactly, but it also takes a
string of digits (``"8400"``), which the per-record check refuses, and it rescales an exponent
form (``1.4412E7``) without noticing an overflow of the type (read into decimal(38, 36) it came
out 113.79...). The per-record check, ``checks.decimal_problem``, was therefore run on every
decimal of every record: most of a real-shaped Opportunity's cost in the target.

Here one scan of the chunk's bytes finds the only two things Arrow cannot be trusted with: a
decimal column's key followed by a string, or by an exponent-form number (a real org writes those
for values from 10^7 up); the first makes the chunk go value by value, the second is checked on
its own (one value, not the chunk). Everything else is left to Arrow: plain numbers read into a
wide decimal (``wide_decimal``) refuse more digits than it holds, and the cast to the column's own
type refuses a digit past the scale or the precision.
"""

from __future__ import annotations

import decimal
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from .checks import decimal_problem

MAX_PRECISION = 38
_SPACE = rb"[ \t\n\r]*"
_EXPONENT_NUMBER = rb"-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+"
_ESCAPE = re.compile(rb"\\u")


def wide_decimal(target: pa.Decimal128Type) -> pa.Decimal128Type:
    """The type a decimal column is read as: its own whole digits and every fraction digit
    decimal128 has left, so 100.0 reads into a percent(3, 0) and 8400.000 into a currency."""
    whole = target.precision - target.scale
    return pa.decimal128(MAX_PRECISION, MAX_PRECISION - whole)


@dataclass(frozen=True)
class DecimalGuard:
    """Says when a chunk's decimals cannot be left to Arrow (``unsure``)."""

    pattern: re.Pattern[bytes] | None = None
    types: Mapping[bytes, frozenset[tuple[int, int]]] = field(default_factory=dict)
    always_unsure: bool = False

    @classmethod
    def for_columns(cls, columns: Iterable[tuple[str, pa.Decimal128Type]]) -> DecimalGuard:
        """``columns``: (key name, stored type) of every decimal value, struct children too."""
        types: dict[bytes, set[tuple[int, int]]] = {}
        always_unsure = False
        for name, kind in columns:
            spelled = json.dumps(name, ensure_ascii=False)[1:-1]
            if spelled != name:
                always_unsure = True  # a key a writer may spell several ways: value by value
            types.setdefault(name.encode(), set()).add((kind.precision, kind.scale))
        if not types:
            return cls()
        names = b"|".join(re.escape(name) for name in sorted(types))
        pattern = re.compile(
            rb'"(' + names + rb')"' + _SPACE + rb":" + _SPACE + rb'("|' + _EXPONENT_NUMBER + rb")"
        )
        frozen = {name: frozenset(kinds) for name, kinds in types.items()}
        return cls(pattern, frozen, always_unsure)

    def unsure(self, data: bytes) -> bool:
        """True when ``data`` (JSON objects) may hold a decimal Arrow would take wrongly."""
        if self.pattern is None:
            return False
        # A key spelled with escapes would pass the scan unseen. Looking for a backslash first:
        # a one-byte search is many times faster than ``b"\\u" in data`` (a third of the time
        # even by regex, for chunks that have backslashes), and most chunks have none.
        if self.always_unsure or (b"\\" in data and _ESCAPE.search(data)):
            return True
        for match in self.pattern.finditer(data):
            text = match.group(2)
            if text == b'"':
                return True  # a string where a number belongs: the per-value check words it
            number = decimal.Decimal(text.decode())
            if any(decimal_problem(number, p, s) for p, s in self.types[match.group(1)]):
                return True  # too large or too fine for the column: refused, value by value
        return False
