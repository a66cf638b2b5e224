"""Singer RECORD lines for a whole Arrow page at once, built column by column with Arrow compute.

Turning a page into Python dicts and encoding each one costs ~3 µs a row; building each column's
JSON text with Arrow kernels (escape, quote, ``null``) and joining the columns into lines costs
a fraction of that. The lines carry the same values as msgspec would write for the record dicts:
strings escaped per RFC 8259, numbers in shortest round-trip form, booleans and nulls as words.
A page with a column this module does not know how to write is declined (None) and the caller
encodes its records one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

_encode = msgspec.json.Encoder().encode
_SPECIAL = frozenset(range(32)) | {ord('"'), ord("\\")}
_QUOTE_AND_BACKSLASH = frozenset({ord('"'), ord("\\")})
# Every byte but those JSON escapes: deleted, what is left names the escapes a column needs.
_NOT_SPECIAL = bytes(b for b in range(256) if b not in _SPECIAL)
_SHORT_ESCAPES = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
_NULL = pa.scalar("null")

Compound = tuple[str, Sequence[tuple[str, str]]]  # (field, [(JSON key, component column)])


def record_lines(
    table: pa.Table,
    prefix: bytes,
    suffix: bytes,
    compounds: Sequence[Compound] = (),
    drop: Collection[str] = (),
) -> memoryview | None:
    """``prefix + {record} + suffix`` for every row, as one buffer, or None to decline the page.

    ``compounds`` are objects assembled from component columns (an address from its street, city
    ...), written after the columns and null when every component is null, as the record dicts
    have them. ``drop`` names columns and compounds not written (deselected); a dropped column
    still feeds its compound.
    """
    if table.num_rows == 0:
        return memoryview(b"")
    tokens: dict[str, pa.ChunkedArray | None] = {}

    def token(name: str) -> pa.ChunkedArray | None:
        if name not in tokens:
            tokens[name] = _tokens(table[name])
        return tokens[name]

    parts: list[pa.Array | pa.Scalar] = [pa.scalar(prefix.decode())]
    first = True
    for name in table.column_names:
        if name in drop:
            continue
        column = table[name]
        key = _key(name, first=first)
        first = False
        if _is_text(column.type) and not column.null_count:
            # No null to write bare: the quotes go into the text around the values.
            parts += [pa.scalar(key + '"'), _escaped(column), pa.scalar('"')]
            continue
        if (value := token(name)) is None:
            return None
        parts += [pa.scalar(key), value]
    for name, components in compounds:
        if name in drop:
            continue
        members: list[pa.Array | pa.Scalar] = []
        for key, column in components:
            if (value := token(column)) is None:
                return None
            members += [pa.scalar(_key(key, first=not members)), value]
        text = pc.binary_join_element_wise(*members, pa.scalar("}"), "")
        every_part_null = _all_null(table, [column for _, column in components])
        parts += [pa.scalar(_key(name, first=first)), pc.if_else(every_part_null, _NULL, text)]
        first = False
    parts.append(pa.scalar(("{" if first else "") + "}" + suffix.decode()))
    lines = pc.binary_join_element_wise(*_joined_scalars(parts), "")
    return _contiguous(lines)


def _joined_scalars(parts: list[pa.Array | pa.Scalar]) -> list[pa.Array | pa.Scalar]:
    """``parts`` with each run of text scalars as one: a part fewer to join on every row."""
    joined: list[pa.Array | pa.Scalar] = []
    for part in parts:
        if isinstance(part, pa.Scalar) and joined and isinstance(joined[-1], pa.Scalar):
            joined[-1] = pa.scalar(joined[-1].as_py() + part.as_py())
        else:
            joined.append(part)
    return joined


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _key(name: str, *, first: bool) -> str:
    return ("{" if first else ",") + _encode(name).decode() + ":"


def _all_null(table: pa.Table, columns: list[str]) -> pa.ChunkedArray:
    result = pc.is_null(table[columns[0]])
    for column in columns[1:]:
        result = pc.and_(result, pc.is_null(table[column]))
    return result


def _tokens(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Each value's JSON text; ``null`` for nulls; None for a type not written here."""
    kind = column.type
    if _is_text(kind):
        text = pc.binary_join_element_wise(pa.scalar('"'), _escaped(column), pa.scalar('"'), "")
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, pa.scalar("true"), pa.scalar("false"))
    elif pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        # A decimal's text ("1234.50", every digit of its scale) is the exact JSON number.
        text = column.cast(pa.string())
    elif pa.types.is_floating(kind):
        if pc.any(pc.invert(pc.is_finite(column))).as_py():
            return None  # JSON has no NaN or Infinity
        # Arrow writes the shortest round-trip form but integral values without a point ("3",
        # "-0"): add ".0" so they read back as floats, as msgspec writes them.
        text = pc.replace_substring_regex(column.cast(pa.string()), r"^(-?\d+)$", r"\1.0")
    elif pa.types.is_struct(kind):
        return _object_tokens(column)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _array_tokens(column)
    elif pa.types.is_null(kind):
        return pa.chunked_array([pa.repeat(_NULL, len(column))], pa.string())
    else:
        return None
    return pc.fill_null(text, _NULL)


def _object_tokens(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A struct column as JSON objects, its fields in their order (a dict's key order, as
    msgspec writes it), ``null`` where the struct is null."""
    kind = column.type
    if not kind.num_fields:
        text: pa.ChunkedArray = pa.chunked_array([pa.repeat(pa.scalar("{}"), len(column))])
    else:
        parts: list[pa.Array | pa.Scalar | pa.ChunkedArray] = []
        for index in range(kind.num_fields):
            value = _tokens(pc.struct_field(column, [index]))
            if value is None:
                return None
            parts += [pa.scalar(_key(kind.field(index).name, first=not parts)), value]
        text = pc.binary_join_element_wise(*_joined_scalars(parts), pa.scalar("}"), "")
    return pc.if_else(pc.is_valid(column), text, _NULL)


def _array_tokens(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """A list column as JSON arrays of its items' tokens, ``null`` where the list is null."""
    chunks = []
    for chunk in column.chunks:
        # The values between the first and last offset, null lists' sub-lists included (the
        # offsets span them; ``flatten`` would leave them out).
        first, last = chunk.offsets[0].as_py(), chunk.offsets[-1].as_py()
        values = chunk.values.slice(first, last - first)
        items = _tokens(pa.chunked_array([values], chunk.type.value_type))
        if items is None:
            return None
        offsets = pc.subtract(chunk.offsets, pa.scalar(first, chunk.offsets.type))
        lists = type(chunk).from_arrays(offsets, items.combine_chunks())
        text = pc.binary_join_element_wise(
            pa.scalar("["), pc.binary_join(lists, ","), pa.scalar("]"), ""
        )
        chunks.append(pc.if_else(chunk.is_valid(), text, _NULL))
    return pa.chunked_array(chunks, pa.string())


def _escaped(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Backslash, quote and control characters escaped, the rest (UTF-8 included) as is.

    Which of them occur is read from the column's bytes in one pass (``_specials``): a kernel
    pass per control character cost more than the rest of a page's line building.
    """
    specials = _specials(column)
    if not specials:
        return column
    text = column
    if ord("\\") in specials:
        text = pc.replace_substring(text, "\\", "\\\\")
    if ord('"') in specials:
        text = pc.replace_substring(text, '"', '\\"')
    for code in sorted(specials - _QUOTE_AND_BACKSLASH):
        text = pc.replace_substring(text, chr(code), _SHORT_ESCAPES.get(code, f"\\u{code:04x}"))
    return text


def _specials(column: pa.ChunkedArray) -> set[int]:
    """The bytes JSON escapes (quote, backslash, controls) found in the column's values."""
    found: set[int] = set()
    for chunk in column.chunks:
        data = _values_bytes(chunk)
        found.update(data.tobytes().translate(None, _NOT_SPECIAL))
    return found


def _values_bytes(array: pa.Array) -> memoryview:
    """A string array's values back to back: its data buffer between its first and last
    offset (a slice's, not the whole buffer's)."""
    _, offset_buffer, data = array.buffers()
    if data is None or not len(array):
        return memoryview(b"")
    width = pa.int64() if pa.types.is_large_string(array.type) else pa.int32()
    offsets = pa.Array.from_buffers(
        width, len(array) + 1, [None, offset_buffer], offset=array.offset
    )
    return memoryview(data)[offsets[0].as_py() : offsets[len(array)].as_py()]


def _contiguous(lines: pa.ChunkedArray | pa.Array) -> memoryview:
    """The lines back to back."""
    return _values_bytes(lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines)
