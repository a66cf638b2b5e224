"""Pure translations between the Singer tap's messages and the Airbyte protocol.

Airbyte and Singer describe the same things with different shapes: a catalog of streams with
sync modes, cursor and primary keys; per-stream state; records. Keeping the translation pure
(no I/O) lets the command in ``cli.py`` stay a thin pipe and these rules be tested on their own.
"""

from __future__ import annotations

import copy
import time
from typing import Any

# The Airbyte source reads RECORD messages; BATCH files are a Singer-to-Singer fast path.
NOT_FOR_AIRBYTE = frozenset({"batch_config"})


def _draft7(node: Any, key: str | None = None) -> Any:
    """The SDK writes a few subschemas as the bare string ``"null"`` (stream_maps); Draft 7
    validators, as Airbyte clients use, need ``{"type": "null"}``."""
    if isinstance(node, dict):
        return {k: _draft7(v, k) for k, v in node.items()}
    if isinstance(node, list):
        if key in ("anyOf", "oneOf", "allOf"):
            return [{"type": "null"} if item == "null" else _draft7(item) for item in node]
        return [_draft7(item) for item in node]
    return node


def spec(settings_schema: dict) -> dict:
    """SPEC: the tap's settings (its own and the SDK's) as the connection specification."""
    properties = {}
    for name, prop in settings_schema["properties"].items():
        if name in NOT_FOR_AIRBYTE:
            continue
        prop = copy.deepcopy(prop)
        if prop.pop("secret", False):
            prop["airbyte_secret"] = True
        prop.pop("writeOnly", None)
        properties[name] = _draft7(prop)
    return {
        "type": "SPEC",
        "spec": {
            "connectionSpecification": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "title": "Salesforce Temporal Source Spec",
                "type": "object",
                "required": [
                    r for r in settings_schema.get("required", []) if r not in NOT_FOR_AIRBYTE
                ],
                "properties": properties,
            },
            "supportsIncremental": True,
            "supported_destination_sync_modes": ["overwrite", "append", "append_dedup"],
        },
    }


def _root_metadata(stream: dict) -> dict:
    for entry in stream.get("metadata", []):
        if entry.get("breadcrumb") == []:
            return entry.setdefault("metadata", {})
    root: dict = {}
    stream.setdefault("metadata", []).append({"breadcrumb": [], "metadata": root})
    return root


def _replication_key(stream: dict) -> str | None:
    return stream.get("replication_key") or _root_metadata(stream).get("replication-key")


def _key_properties(stream: dict) -> list[str]:
    return list(
        stream.get("key_properties") or _root_metadata(stream).get("table-key-properties") or []
    )


def airbyte_stream(stream: dict) -> dict:
    """One Singer catalog entry as an AirbyteStream (source-defined cursor and primary key)."""
    cursor = _replication_key(stream)
    entry: dict[str, Any] = {
        "name": stream["tap_stream_id"],
        "json_schema": stream["schema"],
        "supported_sync_modes": ["full_refresh", "incremental"] if cursor else ["full_refresh"],
        "source_defined_primary_key": [[key] for key in _key_properties(stream)],
    }
    if cursor:
        entry["source_defined_cursor"] = True
        entry["default_cursor_field"] = [cursor]
    return entry


def catalog(singer_catalog: dict) -> dict:
    return {
        "type": "CATALOG",
        "catalog": {"streams": [airbyte_stream(s) for s in singer_catalog["streams"]]},
    }


class InputError(ValueError):
    """An Airbyte input (configured catalog, state) this source cannot read: a config_error."""


SYNC_MODES = ("full_refresh", "incremental")


def _kind(value: object) -> str:
    from ..config.json_files import json_kind

    return json_kind(value)


def configured_streams(configured: object) -> dict[str, str]:
    """Stream name -> sync mode of a ConfiguredAirbyteCatalog, its shape checked on the way.

    Airbyte sends ``{"streams": [{"stream": {"name": ...}, "sync_mode": ...}, ...]}``; anything
    else is named by its path in one line instead of a ``KeyError`` or ``TypeError``.
    """
    if not isinstance(configured, dict):
        raise InputError(f"catalog: expects a JSON object, got {_kind(configured)}")
    streams = configured.get("streams")
    if not isinstance(streams, list):
        raise InputError(
            f"catalog: 'streams' expects an array of configured streams, got {_kind(streams)}"
        )
    wanted: dict[str, str] = {}
    for n, entry in enumerate(streams):
        where = f"catalog: streams[{n}]"
        if not isinstance(entry, dict):
            raise InputError(f"{where} expects an object, got {_kind(entry)}")
        stream = entry.get("stream")
        if not isinstance(stream, dict):
            raise InputError(f"{where}.stream expects an object, got {_kind(stream)}")
        name = stream.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}.stream.name expects a stream name, got {_kind(name)}")
        mode = entry.get("sync_mode", "full_refresh")
        if mode not in SYNC_MODES:
            raise InputError(f"{where}.sync_mode expects one of {', '.join(SYNC_MODES)}")
        wanted[name] = mode
    return wanted


def configured_singer_catalog(singer_catalog: dict, configured: object) -> tuple[dict, set[str]]:
    """The Singer catalog with exactly the configured streams selected (all their fields), and
    the names of those configured for a full refresh."""
    wanted = configured_streams(configured)
    unknown = sorted(set(wanted) - {s["tap_stream_id"] for s in singer_catalog["streams"]})
    if unknown:
        shown = ", ".join(name if len(name) <= 80 else name[:77] + "..." for name in unknown[:10])
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise InputError(f"catalog: configured streams the source does not have: {shown}{more}")
    result = copy.deepcopy(singer_catalog)
    for stream in result["streams"]:
        chosen = stream["tap_stream_id"] in wanted
        stream["selected"] = chosen
        _root_metadata(stream)["selected"] = chosen
    full_refresh = {name for name, mode in wanted.items() if mode == "full_refresh"}
    return result, full_refresh


def _bookmarks(value: object, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(
            f"state: {where} expects an object of stream bookmarks, got {_kind(value)}"
        )
    return value


def _stream_state(message: dict, where: str) -> tuple[str, Any]:
    stream = message.get("stream")
    if not isinstance(stream, dict):
        raise InputError(f"state: {where}.stream expects an object, got {_kind(stream)}")
    descriptor = stream.get("stream_descriptor")
    name = descriptor.get("name") if isinstance(descriptor, dict) else None
    if not isinstance(name, str) or not name:
        raise InputError(f"state: {where}.stream.stream_descriptor.name expects a stream name")
    return name, stream.get("stream_state")


def singer_state(airbyte_state: object, full_refresh: set[str]) -> dict:
    """Singer STATE from Airbyte's: a list of per-stream states (the current protocol), or a
    legacy blob. Streams read in full refresh start without a bookmark.

    A shape this source cannot read (``{"bookmarks": 5}``, a STREAM state without its
    descriptor, a GLOBAL state, which this source never emits) is an ``InputError`` naming its
    path. The bookmarks themselves are checked by the tap (``state.checked_state``).
    """
    bookmarks: dict[str, Any] = {}
    if isinstance(airbyte_state, list):
        for n, message in enumerate(airbyte_state):
            where = f"[{n}]"
            if not isinstance(message, dict):
                raise InputError(f"state: {where} expects a state message, got {_kind(message)}")
            kind = message.get("type")
            if kind == "STREAM":
                name, stream_state = _stream_state(message, where)
                if stream_state is not None:
                    bookmarks[name] = stream_state
            elif kind in (None, "LEGACY"):
                data = message.get("data")
                if data is not None and not isinstance(data, dict):
                    raise InputError(f"state: {where}.data expects an object, got {_kind(data)}")
                bookmarks.update(
                    _bookmarks((data or {}).get("bookmarks"), f"{where}.data.bookmarks")
                )
            else:
                shown = kind if isinstance(kind, str) and len(kind) <= 20 else _kind(kind)
                raise InputError(
                    f"state: {where}.type {shown!r} is not supported (STREAM or LEGACY)"
                )
    elif isinstance(airbyte_state, dict):
        bookmarks.update(_bookmarks(airbyte_state.get("bookmarks"), "'bookmarks'"))
    elif airbyte_state is not None:
        raise InputError(f"state: expects an array of state messages, got {_kind(airbyte_state)}")
    return {"bookmarks": {k: v for k, v in bookmarks.items() if k not in full_refresh}}


def now_ms() -> int:
    return int(time.time() * 1000)


def record(message: dict, emitted_at: int) -> dict:
    return {
        "type": "RECORD",
        "record": {
            "stream": message["stream"],
            "data": message["record"],
            "emitted_at": emitted_at,
        },
    }


def stream_states(state: dict, last: dict[str, Any]) -> list[dict]:
    """Per-stream STATE messages for the bookmarks that changed since ``last`` (updated)."""
    out = []
    for name, bookmark in (state.get("bookmarks") or {}).items():
        if last.get(name) == bookmark:
            continue
        last[name] = copy.deepcopy(bookmark)
        out.append(
            {
                "type": "STATE",
                "state": {
                    "type": "STREAM",
                    "stream": {"stream_descriptor": {"name": name}, "stream_state": bookmark},
                },
            }
        )
    return out


def connection_status(error: str | None) -> dict:
    status: dict[str, Any] = {"status": "FAILED" if error else "SUCCEEDED"}
    if error:
        status["message"] = error
    return {"type": "CONNECTION_STATUS", "connectionStatus": status}


def error_trace(message: str, failure_type: str = "system_error") -> dict:
    """An ERROR trace; its message on one line and at most 1,000 characters (it may quote an
    input's value, which can be megabytes long)."""
    message = " ".join(message.split())
    if len(message) > 1_000:
        message = message[:997] + "..."
    return {
        "type": "TRACE",
        "trace": {
            "type": "ERROR",
            "emitted_at": float(now_ms()),
            "error": {"message": message, "failure_type": failure_type},
        },
    }


# The tap's one-line errors that are about what the user gave it (settings, credentials, the
# state and catalog files): Airbyte shows a config_error to the user as theirs to fix, and
# does not retry it. Any other failure of the tap is the source's: a system_error.
_CONFIG_ERROR_PREFIXES = (
    "setting '",
    "STATE:",
    "catalog:",
    "--config file",
    "--state file",
    "--catalog file",
    "Salesforce login failed",
    "refusing to send the session token",
)
TAP_PREFIX = "tap-salesforce-temporal: "


def failure_type_of(tap_error: str) -> str:
    """The Airbyte failure_type of the tap's last stderr line: config_error for the user's
    inputs, transient_error for the quota guard's stop (a later run resumes), else system_error."""
    message = tap_error.removeprefix(TAP_PREFIX)
    if message.startswith(_CONFIG_ERROR_PREFIXES):
        return "config_error"
    if message.startswith("stopped early by the API quota guard"):
        return "transient_error"
    return "system_error"
