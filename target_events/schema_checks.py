"""What a SCHEMA message must hold before a sink is built from it, and what the per-stream settings
(``dedup_key``, ``partition_by``) may name in it.

Every problem is one line naming the setting and field at fault (the reader adds the stream and
input line), so the run stops before a record is buffered on a shape that would later fail deep
inside Arrow or silently merge, misplace or drop rows. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
                f"SCHEMA property '{name}' must be a JSON object, got {_kind(spec)}"
            )
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
