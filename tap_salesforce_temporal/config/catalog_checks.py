"""The input catalog's shape, checked before the SDK reads it: one line naming the bad path.

The SDK's ``Catalog.from_dict`` trusts its input: ``"streams": 5``, a stream without
``tap_stream_id``, ``"breadcrumb": 7`` or ``"key_properties": "Id"`` end in a ``TypeError`` or a
``KeyError`` somewhere in a stream. Only the parts the SDK and this tap read are checked; unknown
keys are left alone (other tools add their own).
"""

from __future__ import annotations

from collections.abc import Callable

from .json_files import JsonFileError, json_kind

REPLICATION_METHODS = ("FULL_TABLE", "INCREMENTAL", "LOG_BASED")
INCLUSIONS = ("available", "automatic", "unsupported")


def _string(value: object) -> bool:
    return isinstance(value, str)


def _boolean(value: object) -> bool:
    return isinstance(value, bool)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _one_of(choices: tuple[str, ...]) -> Callable[[object], bool]:
    return lambda value: value in choices


# key -> (check, what it expects); None is accepted everywhere (the SDK treats it as absent).
_STREAM_KEYS: dict[str, tuple[Callable[[object], bool], str]] = {
    "stream": (_string, "a string"),
    "key_properties": (_strings, "an array of strings"),
    "replication_key": (_string, "a string"),
    "replication_method": (
        _one_of(REPLICATION_METHODS),
        f"one of {', '.join(REPLICATION_METHODS)}",
    ),
    "selected": (_boolean, "true or false"),
    "stream_alias": (_string, "a string"),
}
_METADATA_KEYS: dict[str, tuple[Callable[[object], bool], str]] = {
    "selected": (_boolean, "true or false"),
    "selected-by-default": (_boolean, "true or false"),
    "inclusion": (_one_of(INCLUSIONS), f"one of {', '.join(INCLUSIONS)}"),
    "table-key-properties": (_strings, "an array of strings"),
    "replication-key": (_string, "a string"),
    "forced-replication-method": (
        _one_of(REPLICATION_METHODS),
        f"one of {', '.join(REPLICATION_METHODS)}",
    ),
    "valid-replication-keys": (_strings, "an array of strings"),
    "schema-name": (_string, "a string"),
}


def _fail(where: str, problem: str) -> JsonFileError:
    return JsonFileError(f"catalog: {where} {problem}")


def _expect(where: str, value: object, ok: bool, wanted: str) -> None:
    if not ok:
        raise _fail(where, f"expects {wanted}, got {json_kind(value)}")


def check_catalog(catalog: dict) -> None:
    """Raise ``JsonFileError`` naming the first path the SDK could not read."""
    streams = catalog.get("streams", [])
    _expect("'streams'", streams, isinstance(streams, list), "an array of streams")
    for n, stream in enumerate(streams):
        where = f"streams[{n}]"
        if not isinstance(stream, dict):
            raise _fail(where, f"expects an object, got {json_kind(stream)}")
        name = stream.get("tap_stream_id")
        if not isinstance(name, str) or not name:
            raise _fail(f"{where}.tap_stream_id", f"expects a name, got {json_kind(name)}")
        for key, (check, wanted) in _STREAM_KEYS.items():
            value = stream.get(key)
            if value is not None:
                _expect(f"{where}.{key}", value, check(value), wanted)
        if stream.get("stream") not in (None, name):
            # The SDK's stream maps are keyed by the catalog's "stream": KeyError mid-sync.
            raise _fail(
                f"{where}.stream",
                f"must equal its tap_stream_id {name[:80]!r} (this tap names streams by their id)",
            )
        schema = stream.get("schema", {})
        _check_schema(f"{where}.schema", schema)
        metadata = stream.get("metadata", [])
        _expect(f"{where}.metadata", metadata, isinstance(metadata, list), "an array")
        for m, entry in enumerate(metadata):
            _check_metadata(f"{where}.metadata[{m}]", entry)
        _check_replication_key(where, stream, schema)


def _check_metadata(where: str, entry: object) -> None:
    if not isinstance(entry, dict):
        raise _fail(where, f"expects an object, got {json_kind(entry)}")
    breadcrumb = entry.get("breadcrumb")
    _expect(f"{where}.breadcrumb", breadcrumb, _strings(breadcrumb), "an array of strings")
    values = entry.get("metadata")
    if not isinstance(values, dict):
        raise _fail(f"{where}.metadata", f"expects an object, got {json_kind(values)}")
    for key, (check, wanted) in _METADATA_KEYS.items():
        value = values.get(key)
        if value is not None:
            _expect(f"{where}.metadata.{key}", value, check(value), wanted)


def _check_schema(where: str, schema: object) -> None:
    """A JSON Schema as Draft 7's meta-schema defines it (the SDK's ``Schema`` walks it)."""
    if not isinstance(schema, dict):
        raise _fail(where, f"expects a JSON Schema object, got {json_kind(schema)}")
    from jsonschema import Draft7Validator

    error = next(iter(Draft7Validator(Draft7Validator.META_SCHEMA).iter_errors(schema)), None)
    if error is not None:
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        raise _fail(f"{where}{path}", f"is not a valid JSON Schema (the {error.validator!r} rule)")
    _check_subschemas(where, schema)


def _check_subschemas(where: str, schema: dict) -> None:
    """Draft 7 allows ``true``/``false`` as a subschema; the SDK's ``Schema`` needs objects."""
    pending = [(where, schema)]
    while pending:
        path, node = pending.pop()
        for key in ("properties", "patternProperties", "definitions"):
            for name, child in (node.get(key) or {}).items():
                _expect(
                    f"{path}.{key}.{name}", child, isinstance(child, dict), "a JSON Schema object"
                )
                pending.append((f"{path}.{key}.{name}", child))
        for key in ("anyOf", "oneOf", "allOf"):
            for n, child in enumerate(node.get(key) or []):
                _expect(
                    f"{path}.{key}[{n}]", child, isinstance(child, dict), "a JSON Schema object"
                )
                pending.append((f"{path}.{key}[{n}]", child))
        items = node.get("items")
        if items is not None:
            children = items if isinstance(items, list) else [items]
            for n, child in enumerate(children):
                _expect(f"{path}.items", child, isinstance(child, dict), "a JSON Schema object")
                pending.append((f"{path}.items[{n}]", child))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            pending.append((f"{path}.additionalProperties", extra))


def _check_replication_key(where: str, stream: dict, schema: dict) -> None:
    """Every replication key of this tap is a Salesforce date-time (SystemModstamp,
    LastModifiedDate, CreatedDate): the SDK refuses one whose schema says otherwise with a bare
    ``ValueError`` in the middle of the sync."""
    keys = [stream.get("replication_key")]
    for entry in stream.get("metadata", []):
        if entry.get("breadcrumb") == []:
            keys.append(entry["metadata"].get("replication-key"))
    for key in filter(None, keys):
        field = (schema.get("properties") or {}).get(key)
        if isinstance(field, dict) and field.get("format") not in ("date-time", "date"):
            raise _fail(
                f"{where}.schema.properties.{key[:80]}",
                'is the replication key: it expects "format": "date-time"',
            )
