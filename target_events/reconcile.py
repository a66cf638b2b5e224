"""``target-events reconcile``: are the source's keys the keys the lake holds?

Reads, on stdin, the Singer output of a full read of the source (e.g. the tap run without STATE,
``include_deleted`` on, its catalog narrowed to the key and replication key: a cheap read), and
compares, per stream, the keys alive at the source (its last message per key is not a tombstone)
with the keys of the stream's Delta table (its current rows in history mode). It prints, per
stream, both counts and the missing keys (at the source, not in the lake: a lost row) and the
extra ones (in the lake, gone at the source: a delete the lake never heard of). ``--strict``
exits 1 when any stream differs, so a monthly close can gate on it.

Only ``format: delta`` holds one row per key; Parquet and JSONL keep raw versions (not compared).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc

from .delta_plan import DELETED_AT, IS_DELETED
from .history_plan import IS_CURRENT
from .settings import Settings


@dataclass
class Source:
    """One stream's keys as the source's messages leave them."""

    keys: tuple[str, ...] = ()
    alive: dict[tuple[object, ...], bool] = field(default_factory=dict)


def source_keys(lines: Iterable[str]) -> dict[str, Source]:
    """Stream -> its keys and whether each is alive after the last message about it."""
    streams: dict[str, Source] = {}
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        stream = message.get("stream")
        if message.get("type") == "SCHEMA":
            streams.setdefault(stream, Source()).keys = tuple(message.get("key_properties") or ())
        elif message.get("type") == "RECORD" and stream in streams and streams[stream].keys:
            record, source = message["record"], streams[stream]
            dead = bool(record.get(IS_DELETED)) or record.get(DELETED_AT) is not None
            source.alive[tuple(record.get(k) for k in source.keys)] = not dead
    return streams


def lake_keys(settings: Settings, stream: str, keys: tuple[str, ...]) -> set[tuple[object, ...]]:
    """The keys of the stream's Delta table (its current rows, in history mode)."""
    from .delta import DeltaLake

    dataset = DeltaLake(settings).dataset(stream)  # Arrow's own filesystem: see table_dataset
    if dataset is None:
        return set()
    current = IS_CURRENT in dataset.schema.names
    table = dataset.to_table(columns=list(keys), filter=pc.field(IS_CURRENT) if current else None)
    columns = [table[k].to_pylist() for k in keys]
    return set(zip(*columns, strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="target-events reconcile",
        description="Compare the keys of a full source read (Singer messages on stdin) with the"
        " keys of the Delta tables; exit 1 with --strict when they differ.",
    )
    parser.add_argument("--config", required=True, help="the target's config (its destination)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any stream differs")
    parser.add_argument("--show", type=int, default=20, help="keys listed per stream and side")
    args = parser.parse_args(argv)
    settings = Settings.from_config(json.loads(Path(args.config).read_text()))
    differs = False
    report = []
    for stream, source in sorted(source_keys(sys.stdin).items()):
        if not source.keys:
            continue
        alive = {key for key, live in source.alive.items() if live}
        landed = lake_keys(settings, stream, source.keys)
        missing, extra = sorted(alive - landed, key=str), sorted(landed - alive, key=str)
        differs = differs or bool(missing or extra)
        report.append(
            {
                "stream": stream,
                "source_keys": len(alive),
                "lake_keys": len(landed),
                "missing": len(missing),
                "extra": len(extra),
                "missing_keys": [list(k) for k in missing[: args.show]],
                "extra_keys": [list(k) for k in extra[: args.show]],
            }
        )
    for entry in report:
        print(json.dumps(entry, default=str))  # noqa: T201
    return 1 if args.strict and differs else 0
