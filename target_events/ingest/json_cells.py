"""The JSON text of a chunk's open objects without decoding the rest of each record.

Arrow's reader has no raw-JSON type, so an open object (an event's ``context.metadata``) is taken
from a msgspec pass over the chunk. Decoding every record whole and writing each value back as JSON
text was most of an event stream's time in the target. Here msgspec decodes each
record into a shape that keeps every value as raw bytes (``msgspec.Raw``) except the path down to
the open objects, and the text of each distinct raw value is made once per chunk: open objects
repeat (``{"data_type": "Text"}``), and equal bytes decode to equal values.

It only ever answers what ``ChunkConverter``'s value-by-value pass would: on a record key the schema
does not declare, or any value of an unexpected shape, it answers None and that pass decides (it
names unknown keys and declines what the per-record check must word).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pyarrow as pa

from .chunk_plan import Plan
from .json_schema import json_text, plain_json_text

# JSON numbers decode to floats here, not to the exact Decimals of json_chunks' decoder: the value
# by value pass writes each Decimal as the nearest double, which is what msgspec decodes the same
# text to (a number no double holds is refused here, and that pass decides).
_decode_value = msgspec.json.Decoder().decode
DECLINE = object()


def cell(value: object, plan: Plan, text: Callable[[object], str] = json_text) -> object:
    """A JSON-text column's stored value for one decoded value, or ``DECLINE`` (the per-record
    check words it): null stays null, a string stays a string where the kinds are mixed."""
    if value is None or (isinstance(value, str) and not plan.kind):
        return value
    if plan.kind == "object" and not isinstance(value, dict):
        return DECLINE
    return text(value)


class JsonCells:
    """Decodes records (or whole RECORD messages) down to their JSON-text values only."""

    def __init__(self, known: Sequence[str], paths: Sequence[tuple[tuple[str, ...], Plan]]):
        tree: dict[str, Any] = {}
        for path, _ in paths:
            node = tree
            for name in path[:-1]:
                node = node.setdefault(name, {})
            node[path[-1]] = None
        # Every declared key is a field (a raw value unless on a path), any other key refused.
        fields = {name: tree.get(name) for name in known}
        record = _shape("Record", fields, forbid_unknown=True)
        message = msgspec.defstruct("Message", [("record", record, None)])
        self._records: msgspec.json.Decoder[Any] = msgspec.json.Decoder(record)
        self._messages: msgspec.json.Decoder[Any] = msgspec.json.Decoder(message)
        self._paths = [(_attributes(fields, path), plan) for path, plan in paths]
        self._names = [path for path, _ in paths]

    def from_records(self, raws: Sequence[bytes]) -> dict[tuple[str, ...], pa.Array] | None:
        try:
            records = [self._records.decode(raw) for raw in raws]
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None  # msgspec.ValidationError (an unknown key, a shape) is a DecodeError
        return self._columns(records)

    def from_messages(self, lines: bytes) -> dict[tuple[str, ...], pa.Array] | None:
        try:
            records = [self._messages.decode(line).record for line in lines.splitlines()]
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
        return None if None in records else self._columns(records)

    def _columns(self, records: list) -> dict[tuple[str, ...], pa.Array] | None:
        try:
            return self._made(records)
        except RecursionError:  # an open object nested too deeply for msgspec's decode
            return None

    def _made(self, records: list) -> dict[tuple[str, ...], pa.Array] | None:
        columns: dict[tuple[str, ...], pa.Array] = {}
        for name, (attributes, plan) in zip(self._names, self._paths, strict=True):
            made: dict[bytes, object] = {}
            values: list[object] = []
            for record in records:
                raw: Any = record
                for attribute in attributes:
                    raw = getattr(raw, attribute)
                    if raw is None:
                        break
                if raw is None:
                    values.append(None)  # missing, or under a null or missing object
                    continue
                key = bytes(raw)
                value = made.get(key, DECLINE)
                if value is DECLINE:
                    try:
                        decoded = _decode_value(key)
                    except msgspec.DecodeError:
                        return None  # a number no double holds (1e400)
                    value = made[key] = cell(decoded, plan, plain_json_text)
                    if value is DECLINE:
                        return None
                values.append(value)
            columns[name] = pa.array(values, type=pa.string())
        return columns


def _attributes(fields: dict[str, Any], path: tuple[str, ...]) -> tuple[str, ...]:
    """The Python names of the shape's fields down ``path`` (see ``_shape``)."""
    names = []
    node: Any = fields
    for key in path:
        names.append(f"f{list(node).index(key)}")
        node = node[key]
    return tuple(names)


def _shape(name: str, fields: dict[str, Any], *, forbid_unknown: bool = False) -> type:
    """A msgspec struct type: ``None`` in ``fields`` is a raw value, a dict an object on a path.
    Its fields are named by position: keys in JSON may be any text (``class``, ``a b``)."""
    specs = []
    rename = {}
    for position, (key, sub) in enumerate(fields.items()):
        attribute = f"f{position}"
        kind: Any = msgspec.Raw if sub is None else _shape(f"{name}_{position}", sub) | None
        specs.append((attribute, kind, None))
        rename[attribute] = key
    return msgspec.defstruct(name, specs, rename=rename, forbid_unknown_fields=forbid_unknown)
