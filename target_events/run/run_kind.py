"""Whether a stream's run is a full load or an incremental one, learned from the STATE it carries.

Row-count drift is only meaningful between runs of the same kind: an incremental run reads what
changed since the bookmark, so comparing it with a full load always "drifts". The target never
sees the tap's input state, but Singer SDK taps (and most others) write it first, before any
SCHEMA: a stream whose bookmark arrives before its SCHEMA was started from a bookmark, so this run
of it is incremental; a stream whose first bookmark comes after its records is a full load.
"""

from __future__ import annotations

from collections.abc import Mapping

FULL, INCREMENTAL = "full", "incremental"


def bookmarked_streams(state: object) -> set[str]:
    """Streams whose STATE entry holds a replication key value (the SDK's shape: on the entry
    itself or on any of its ``partitions``)."""
    bookmarks = state.get("bookmarks") if isinstance(state, Mapping) else None
    if not isinstance(bookmarks, Mapping):
        return set()
    found = set()
    for stream, entry in bookmarks.items():
        if not isinstance(entry, Mapping):
            continue
        partitions = entry.get("partitions")
        entries = [entry, *(partitions if isinstance(partitions, list) else [])]
        if any(
            isinstance(e, Mapping) and e.get("replication_key_value") is not None for e in entries
        ):
            found.add(str(stream))
    return found


class LoadKinds:
    """Fed every SCHEMA and STATE in input order; answers full or incremental per stream."""

    def __init__(self) -> None:
        self._schemas: set[str] = set()
        self._incremental: set[str] = set()
        self._bookmarked: set[str] = set()

    def on_schema(self, stream: object) -> None:
        if isinstance(stream, str):
            self._schemas.add(stream)

    def on_state(self, state: object) -> None:
        streams = bookmarked_streams(state)
        self._bookmarked |= streams
        self._incremental |= streams - self._schemas

    def kind(self, stream: str) -> str:
        return INCREMENTAL if stream in self._incremental else FULL

    def bookmarked(self, stream: str) -> bool:
        """A STATE of this run carried the stream's bookmark (the tap knows it, rows or not)."""
        return stream in self._bookmarked
