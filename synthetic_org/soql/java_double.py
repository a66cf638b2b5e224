"""Numbers as a real org's REST JSON writes them: Java's ``Double.toString``.

Salesforce stores currency, percent and double fields as doubles and its REST serializer writes
them as Java prints a double, not as the field's scale: ``8400.0`` (not ``8400.00``), ``100.0``
for a percent, and from 10^7 up (or under 10^-3) the computerized scientific form ``1.4412E7``
(Salesforce help article 000385889: query results show large numbers in scientific notation).
A client that only ever saw ``8400.00`` is untested against a real org; the synthetic org sends
what Salesforce sends.

The digits are the shortest that read back to the same double (Python's ``repr``, which is what
Java prints since JDK 19).
"""

from __future__ import annotations

import decimal
import math

import pyarrow as pa
import pyarrow.compute as pc

_FIXED_LOW, _FIXED_HIGH = 1e-3, 1e7


def java_double_text(value: float) -> str:
    """``value`` as ``Double.toString`` prints it (finite values only: a field never holds
    NaN or infinity)."""
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if _FIXED_LOW <= abs(value) < _FIXED_HIGH:
        return repr(value)  # always "d.d" in this range: 8400.0, 0.001, 14412.88
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    mantissa = f"{text[0]}.{text[1:] or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{exponent + len(text) - 1}"


def java_double_fragments(array: pa.Array) -> pa.Array:
    """A numeric column as JSON fragments, ``null`` for nulls."""
    # float() of each Decimal, not Arrow's decimal-to-double cast: that one is not correctly
    # rounded (15.95 came out 15.950000000000001).
    texts = [
        None if value is None else java_double_text(float(value)) for value in array.to_pylist()
    ]
    return pc.fill_null(pa.array(texts, pa.string()), "null")
