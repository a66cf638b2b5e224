"""Split the selected streams into N shards a scheduler runs as N tap processes (issue #29).

Pure: rows per stream in, shards and per-shard catalogs out; ``plan`` sends the COUNTs.

One tap process syncs its streams side by side but is bound by one core; N processes, each with
its own catalog and its own STATE, are how a run scales past it. The shards are balanced by rows
with the greedy "largest first onto the lightest shard" rule: the heaviest shard then exceeds the
lightest by at most the largest stream's rows, whatever the counts.

``micro_decision_events`` is its own shard (``EVENTS_SHARD``), not split across the object shards:
its partitions (one per source object) are found by the tap from the org, not chosen in the
catalog, so a catalog cannot give each object shard only its own sources' events; selected in
every shard it would be read N times. Alone, it keeps one STATE for its partitions and is the
only process appending events for its org. The price: its sources' pages are not shared with
their object streams (it reads the history it needs itself), as when it is synced without them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EVENTS_STREAM = "micro_decision_events"
EVENTS_SHARD = "events"


@dataclass(frozen=True)
class Shard:
    name: str
    streams: tuple[str, ...]
    rows: int

    def as_json(self) -> dict[str, object]:
        return {"shard": self.name, "streams": list(self.streams), "rows": self.rows}


def split(rows: Mapping[str, int], shards: int) -> list[Shard]:
    """``rows`` (stream -> rows, 0 when unknown) into ``shards`` shards, largest stream first onto
    the lightest shard; ties by name, so the same counts always give the same plan. The events
    stream, if present, is its own extra shard. Empty shards are dropped (fewer streams than N)."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    loads: list[list[str]] = [[] for _ in range(shards)]
    totals = [0] * shards
    for stream in sorted((s for s in rows if s != EVENTS_STREAM), key=lambda s: (-rows[s], s)):
        lightest = min(range(shards), key=lambda i: (totals[i], len(loads[i]), i))
        loads[lightest].append(stream)
        totals[lightest] += rows[stream]
    result = [
        Shard(f"shard-{i + 1}", tuple(streams), total)
        for i, (streams, total) in enumerate(zip(loads, totals, strict=True))
        if streams
    ]
    if EVENTS_STREAM in rows:
        result.append(Shard(EVENTS_SHARD, (EVENTS_STREAM,), rows[EVENTS_STREAM]))
    return result


def shard_catalog(catalog: Mapping[str, object], streams: Iterable[str]) -> dict[str, object]:
    """The catalog with only ``streams`` selected at the stream level; field selections kept."""
    chosen = set(streams)
    result = copy.deepcopy(dict(catalog))
    entries = result["streams"]
    assert isinstance(entries, list)
    for entry in entries:
        selected = entry["tap_stream_id"] in chosen
        root = [m for m in entry.setdefault("metadata", []) if m["breadcrumb"] == []]
        if not root:
            root = [{"breadcrumb": [], "metadata": {}}]
            entry["metadata"].append(root[0])
        for item in root:
            item["metadata"]["selected"] = selected
    return result
