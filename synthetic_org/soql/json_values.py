"""Arrow arrays as arrays of JSON text, byte-equal to what the org's msgspec encoder writes.

Pure helpers for ``rest_json``: each turns a column into one JSON fragment per value (``null`` for
a null) with Arrow kernels; numbers are written as Salesforce writes them (``java_double``), which
the reference path writes too.
"""

from __future__ import annotations

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from .java_double import java_double_fragments

# The encoder the handler writes every JSON answer with (Decimals as exact JSON numbers).
ENCODER = msgspec.json.Encoder(decimal_format="number")
# What msgspec escapes in a string: control characters, the quote and the backslash; nothing else.
_NEEDS_ESCAPE = bytes(range(0x20)) + b'"\\'
_PLAIN = bytes(sorted(set(range(256)) - set(_NEEDS_ESCAPE)))
_SHORT_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}
_ESCAPES = {code: _SHORT_ESCAPES.get(code, f"\\u{code:04x}") for code in range(0x20)}
_ESCAPES[ord('"')] = '\\"'


class UnsupportedType(Exception):
    """A column type without a fragment renderer here."""


def json_string_body(array: pa.Array) -> pa.Array:
    """Strings escaped as inside JSON quotes (nulls stay null).

    One pass over the slice's bytes finds which escapable characters occur at all; each one
    present costs one replace pass (the backslash first, so no escape is escaped twice).
    """
    if not pa.types.is_string(array.type):
        array = array.cast(pa.string())
    present = set(concatenated(array).translate(None, _PLAIN))
    if not present:
        return array
    if ord("\\") in present:
        array = pc.replace_substring(array, "\\", "\\\\")
    for code in sorted(present - {ord("\\")}):
        array = pc.replace_substring(array, chr(code), _ESCAPES[code])
    return array


def string_fragments(array: pa.Array) -> pa.Array:
    """``"text"`` per value, ``null`` for nulls."""
    quoted = pc.binary_join_element_wise('"', json_string_body(array), '"', "")
    return pc.fill_null(quoted, "null")


def string_parts(array: pa.Array) -> list[pa.Array | str]:
    """A string column as parts of a row join: without nulls, its quotes join the constants."""
    if array.null_count:
        return [string_fragments(array)]
    return ['"', json_string_body(array), '"']


def join_rows(parts: list[pa.Array | str]) -> pa.Array:
    """Row-wise concatenation of arrays and constants (adjacent constants merged first)."""
    merged: list[pa.Array | str] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return pc.binary_join_element_wise(*merged, "")


def concatenated(array: pa.Array) -> bytes:
    """Every value of a string array without nulls, back to back, as one bytes object."""
    _, offsets, data = array.buffers()
    if data is None or len(array) == 0:
        return b""
    positions = memoryview(offsets).cast("i")
    return bytes(memoryview(data)[positions[array.offset] : positions[array.offset + len(array)]])


def json_fragments(array: pa.Array) -> pa.Array:
    """Any supported column as JSON fragments; raises ``UnsupportedType`` otherwise."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return string_fragments(array)
    if pa.types.is_boolean(kind):
        return pc.fill_null(pc.if_else(array, "true", "false"), "null")
    if pa.types.is_integer(kind):
        return pc.fill_null(array.cast(pa.string()), "null")
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return java_double_fragments(array)  # 8400.0, 1.4412E7: as a real org writes them
    if pa.types.is_struct(kind):
        return _struct_fragments(array)
    raise UnsupportedType(str(kind))


def _struct_fragments(array: pa.StructArray) -> pa.Array:
    """``{"key":value,...}`` in the struct's field order, as a dict of its values encodes."""
    parts: list[pa.Array | str] = []
    for index, child in enumerate(array.flatten()):  # flatten() applies the slice's offset
        name = ENCODER.encode(array.type.field(index).name).decode()
        parts += ["{" if index == 0 else ",", f"{name}:", json_fragments(child)]
    if not parts:
        return pc.if_else(pc.is_valid(array), "{}", "null")
    joined = pc.binary_join_element_wise(*parts, "}", "")
    if array.null_count:
        joined = pc.if_else(pc.is_valid(array), joined, "null")
    return joined
