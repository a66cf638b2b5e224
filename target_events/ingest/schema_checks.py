"""What a SCHEMA message must hold before a sink is built from it, and what the per-stream settings
(``dedup_key``, ``partition_by``) may name in it.

Every problem is one line naming the setting and field at fault (the reader adds the stream and
input line), so the run stops before a record is buffered on a shape that would later fail deep
inside Arrow or silently merge, misplace or drop rows. Pure functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pyarrow as pa


class SchemaProblem(ValueError):
    """A SCHEMA message, or a setting applied to it, that the target cannot honour."""


def check_schema_message(message: Mapping[str, object]) -> None:
    """The message's shape: an object schema whose properties are an object of objects, and key
    properties that are a list of names declared in those properties (RECORD mode refuses a
    record without its key; a key the schema does not declare could never be stored)."""
    schema = message.get("schema")
    if not isinstance(schema, Mapping):
        raise SchemaProblem(f"SCHEMA's schema must be a JSON object, got {_kind(schema)}")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise SchemaProblem(
            f"SCHEMA's schema.properties must be a JSON object, got {_kind(properties)}"
        )
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            raise SchemaProblem(
                f"SCHEMA property '{_cut(name)}' must be a JSON object, got {_kind(spec)}"
            )
    problem = _type_problem(schema)
    if problem:
        raise SchemaProblem(problem)
    keys = message.get("key_properties")
    if keys is None:
        return
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise SchemaProblem(f"SCHEMA's key_properties must be a list of names, got {keys!r:.80}")
    missing = [k for k in keys if k not in properties]
    if missing:
        raise SchemaProblem(
            f"key propert{'y' if len(missing) == 1 else 'ies'} "
            f"{', '.join(map(repr, missing))} not in the schema's properties"
        )


TYPE_NAMES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
# Keywords whose value is one subschema, or a list of them, where a "type" can sit.
_ONE_SCHEMA = ("items", "additionalProperties", "additionalItems", "contains", "not")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "items", "prefixItems")


def _type_problem(schema: Mapping[str, object]) -> str | None:
    """The first ``"type"`` in the schema or any subschema that is not a type name or a list of
    them (``null``, ``[null]``, ``"bogus"``), worded with the property it sits on. Refused here,
    at SCHEMA time, where the reader can name the stream and input line: the SDK's own check
    names neither and quotes the value whole. Walked without recursion (the reader has already
    bounded the depth)."""
    pending: list[tuple[object, tuple[str, ...]]] = [(schema, ())]
    while pending:
        node, path = pending.pop()
        if not isinstance(node, Mapping):
            continue
        if "type" in node and not _is_type(node["type"]):
            where = f" property '{_cut('.'.join(path), 100)}'" if path else "'s schema"
            return (
                f'SCHEMA{where} has "type" {_shown(node["type"])}: not a JSON Schema type name '
                f"({', '.join(sorted(TYPE_NAMES))}) or a list of them"
            )
        children: list[tuple[object, tuple[str, ...]]] = []
        for key in ("properties", "patternProperties"):
            named = node.get(key)
            if isinstance(named, Mapping):
                children.extend((spec, (*path, _cut(str(name)))) for name, spec in named.items())
        children.extend((node[key], (*path, key)) for key in _ONE_SCHEMA if key in node)
        for key in _SCHEMA_LISTS:
            if isinstance(node.get(key), list):
                children.extend((spec, (*path, key)) for spec in node[key])
        pending.extend(reversed(children))  # depth first, in the document's order
    return None


def _is_type(value: object) -> bool:
    if isinstance(value, str):
        return value in TYPE_NAMES
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(v, str) and v in TYPE_NAMES for v in value)
    )


def _shown(value: object) -> str:
    """A type value as JSON would spell it, cut short."""
    try:
        text = json.dumps(value, default=_plain)
    except (TypeError, ValueError, RecursionError):
        text = _kind(value)
    return _cut(text, 60)


def _plain(value: object) -> object:
    """JSON for what msgspec decoded (an exact Decimal for a JSON number with a fraction)."""
    return float(value) if isinstance(value, Decimal) else str(value)


def _cut(text: str, limit: int = 40) -> str:
    """Input shown in a message is cut short: a property name can be megabytes long."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def check_dedup_key(fields: Sequence[str], arrow: pa.Schema) -> None:
    """Every dedup field is a column of the stream: an unknown one would dedup on fewer fields
    than asked, merging rows the user meant to keep apart."""
    unknown = [name for name in fields if name not in arrow.names]
    if unknown:
        raise SchemaProblem(
            "setting 'dedup_key': field "
            f"{', '.join(map(repr, unknown))} is not in the stream's schema"
        )


def partition_problem(field: str, arrow: pa.Schema) -> str | None:
    """Why ``field`` cannot give Hive partitions (absent, or not a date-time or date), or None."""
    if field not in arrow.names:
        return f"setting 'partition_by': field '{field}' is not in the stream's schema"
    kind = arrow.field(field).type
    if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return (
            f"setting 'partition_by': field '{field}' is {kind}, not a "
            'date-time or date (a string needs "format": "date-time" in the schema)'
        )
    return None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
