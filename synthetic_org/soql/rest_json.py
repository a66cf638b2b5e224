"""REST query pages rendered straight to JSON text with Arrow kernels, not a dict per record.

Building a dict per record and encoding 2,000 of them per page made the org's CPU per REST row
several times the Bulk path's; in the whole-org benchmark that CPU is taken from the tap it serves.
Here each column becomes an array of JSON fragments in a few vectorized steps and the fragments
are joined row-wise, so Python runs per column and per page, not per value.

The bytes are exactly those of the handler's msgspec encoder over ``render.rest_records`` (the
reference, proven equal by ``tests/sandbox/test_page_bytes.py``). A query whose shape this module
does not model (a name selected twice, an unexpected storage type, an anyType value that is not a
number) declines with ``None`` and is rendered by the reference.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from .datetimes import datetime_parts, format_datetimes
from .engine import Column, QueryResult
from .java_double import java_double_text
from .json_values import (
    ENCODER,
    UnsupportedType,
    concatenated,
    join_rows,
    json_fragments,
    json_string_body,
    string_fragments,
    string_parts,
)
from .render import REST_DATETIME_SUFFIX

_NUMERIC_DATA_TYPES = pa.array(["Currency", "Double", "Percent"])
Parts = list[pa.Array | str]  # arrays and constants that concatenate, row by row, into JSON


class _Nested(list):
    """The selected fields of one relationship, rendered as one nested object."""


class Decline(Exception):
    """This page's shape is not modelled here: render it with the reference renderer."""


def rest_records_json(result: QueryResult, start: int, stop: int, version: str) -> bytes | None:
    """The ``records`` array of a query page as JSON bytes, or ``None`` to decline."""
    try:
        return _render(result, start, stop, version)
    except Decline:
        return None


def _render(result: QueryResult, start: int, stop: int, version: str) -> bytes:
    if stop <= start:
        return b"[]"
    page = result.table.slice(start, stop - start)
    obj = result.obj.name
    sobjects = f"/services/data/v{version}/sobjects"
    names = page.column_names
    data_types = page["DataType"].combine_chunks() if "DataType" in names else None
    # Members of the record in first-appearance order: an own field, or a relationship whose
    # nested object collects every selected field of that parent.
    members: dict[str, list[tuple[str, Parts]] | Parts] = {}
    for column in result.columns:
        array = page[column.key].combine_chunks()
        fragments = _fragments(column, array, data_types, f"{sobjects}/{obj}")
        if column.reference is None:
            if column.name in members:
                raise Decline  # a dict keeps one entry per name: leave that to the reference
            members[column.name] = fragments
            continue
        rel_name = column.reference.field.relationship_name or ""
        nested = members.setdefault(rel_name, _Nested())
        if not isinstance(nested, _Nested) or any(name == column.spec.name for name, _ in nested):
            raise Decline
        nested.append((column.spec.name, fragments))
    ids = json_string_body(page["Id"].combine_chunks())
    parts: Parts = [
        f'{{"attributes":{{"type":{_text(obj)},"url":"{sobjects}/{obj}/',
        ids,
        '"}',
    ]
    for name, member in members.items():
        parts.append(f",{_text(name)}:")
        if isinstance(member, _Nested):
            parts.append(_nested(result, name, member, page, sobjects))
        else:
            parts += member
    parts.append("},")  # each row ends with the comma that separates it from the next
    return b"[" + concatenated(join_rows(parts))[:-1] + b"]"


def _nested(
    result: QueryResult,
    rel_name: str,
    fields: list[tuple[str, Parts]],
    page: pa.Table,
    sobjects: str,
) -> pa.Array:
    """``{"attributes":{...},"Field":value,...}`` per row, ``null`` where the reference is empty."""
    target = next(
        c.reference.target.name
        for c in result.columns
        if c.reference is not None and c.reference.field.relationship_name == rel_name
    )
    parent_ids = json_string_body(page[f"__ref__{rel_name}"].combine_chunks())
    parts: Parts = [
        f'{{"attributes":{{"type":{_text(target)},"url":"{sobjects}/{target}/',
        parent_ids,
        '"}',
    ]
    for name, fragments in fields:
        parts += [f",{_text(name)}:", *fragments]
    parts.append("}")
    return pc.fill_null(join_rows(parts), "null")


def _text(value: str) -> str:
    return ENCODER.encode(value).decode()


def _fragments(column: Column, array: pa.Array, data_types: pa.Array | None, base: str) -> Parts:
    """The column's values as JSON text, mirroring ``render._rest_values`` type by type."""
    kind = column.spec.type
    if kind == "datetime":
        if array.null_count:
            return string_parts(format_datetimes(array, REST_DATETIME_SUFFIX))
        date, clock, millis = datetime_parts(array, REST_DATETIME_SUFFIX)
        return ['"', date, "T", clock, millis, '"']
    if kind == "date":
        return string_parts(array.cast(pa.string()))
    if kind == "base64":
        return string_parts(pc.binary_join_element_wise(f"{base}/", array, ""))
    if kind == "anyType" and data_types is not None:
        return [_typed_any(array, data_types)]
    if kind == "int" and not pa.types.is_integer(array.type):
        raise Decline
    if pa.types.is_string(array.type):
        return string_parts(array)
    try:
        return [json_fragments(array)]
    except UnsupportedType as error:
        raise Decline from error


def _typed_any(values: pa.Array, data_types: pa.Array) -> pa.Array:
    """History values typed by their DataType: numbers and booleans unquoted, the rest strings."""
    fragments = string_fragments(values)
    valid = pc.is_valid(values)
    boolean = pc.and_(pc.fill_null(pc.equal(data_types, "Boolean"), False), valid)
    if pc.any(boolean).as_py():
        words = pc.if_else(pc.equal(values, "true"), "true", "false")
        fragments = pc.if_else(boolean, words, fragments)
    numeric = pc.and_(pc.is_in(data_types, value_set=_NUMERIC_DATA_TYPES), valid)
    if pc.any(numeric).as_py():
        texts = pc.filter(values, numeric).to_pylist()
        try:
            rendered = [java_double_text(float(text)) for text in texts]
        except ValueError as error:  # not a number: the reference fails on it as it always did
            raise Decline from error
        fragments = pc.replace_with_mask(fragments, numeric, pa.array(rendered, pa.string()))
    return fragments
