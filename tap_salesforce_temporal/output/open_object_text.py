"""Open objects of a whole column as the JSON text a Parquet batch file holds (issue #26).

A batch file holds an open object (a schema object without properties) as
``batches.open_object_text`` writes it: ``json.dumps`` with sorted keys, its ``", "`` and
``": "`` separators, non-ASCII escaped, exact decimals as JSON numbers. Built here from a struct
column with Arrow kernels, numbers written by Python a value at a time; a row whose text needs
more than quoting (a control or non-ASCII character) takes ``open_object_text`` itself.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc

from .batches import open_object_text

STRING = pa.string()
# Characters ``json.dumps`` (ensure_ascii) writes as they are: printable ASCII.
_ESCAPED_BY_JSON = r"[^\x20-\x7e]"


def struct_json_text(column: pa.Array) -> pa.Array:
    """Each struct value's ``open_object_text`` (a dict of its fields), null where it is null."""
    kind = column.type
    size = len(column)
    order = sorted(range(kind.num_fields), key=lambda i: kind.field(i).name)
    slow = pa.repeat(pa.scalar(False), size)
    parts: list[pa.Array | pa.Scalar] = [pa.scalar("{")]
    for position, index in enumerate(order):
        name = kind.field(index).name
        tokens, needs_python = _tokens(pc.struct_field(column, [index]))
        slow = pc.or_(slow, needs_python)
        parts += [pa.scalar((", " if position else "") + json.dumps(name) + ": "), tokens]
    parts.append(pa.scalar("}"))
    text = pc.binary_join_element_wise(*parts, "")
    text = pc.if_else(column.is_valid(), text, pa.scalar(None, STRING))
    rows = pc.indices_nonzero(pc.and_(slow, column.is_valid())).to_pylist()
    if not rows:
        return text
    values = text.to_pylist()
    for row, value in zip(rows, column.take(pa.array(rows)).to_pylist(), strict=True):
        values[row] = open_object_text(value)
    return pa.array(values, STRING)


def _tokens(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each value's JSON text (``null`` for nulls) and where Python must write it instead."""
    kind = values.type
    size = len(values)
    fast = pa.repeat(pa.scalar(False), size)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = values.cast(STRING)
        slow = pc.fill_null(pc.match_substring_regex(text, _ESCAPED_BY_JSON), False)
        text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
        text = pc.binary_join_element_wise(pa.scalar('"'), text, pa.scalar('"'), "")
    elif pa.types.is_boolean(kind):
        text, slow = pc.if_else(values, pa.scalar("true"), pa.scalar("false")), fast
    elif pa.types.is_integer(kind):
        text, slow = values.cast(STRING), fast
    elif pa.types.is_null(kind):
        text, slow = pa.nulls(size, STRING), fast
    elif pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        # As Python writes the number (1.0, 1e-05; a decimal as its float or int): per value.
        numbers = values.to_pylist()
        text = pa.array([None if v is None else open_object_text(v) for v in numbers], STRING)
        slow = fast
    else:  # anything else: Python writes the row
        text, slow = pa.nulls(size, STRING), pc.is_valid(values)
    return pc.fill_null(text, pa.scalar("null")), slow
