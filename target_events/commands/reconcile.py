"""``target-events reconcile``: are the source's keys the keys the lake holds?

Reads, on stdin, the Singer output of a full read of the source (e.g. the tap run without STATE,
``include_deleted`` on, its catalog narrowed to the key and replication key: a cheap read), and
compares, per stream, the keys alive at the source (its last message per key is not a tombstone)
with the keys of the stream's Delta table (its current rows in history mode). It prints, per
stream, both counts and the missing keys (at the source, not in the lake: a lost row) and the
extra ones (in the lake, gone at the source: a delete the lake never heard of). ``--strict``
exits 1 when any stream differs, so a monthly close can gate on it. ``--window month|day`` adds
the same counts per period of each key's CreatedDate (else its replication key): the month a
difference sits in is where a finance team starts looking.

Only ``format: delta`` holds one row per key; Parquet and JSONL keep raw versions (not compared).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..config.settings import Settings
from ..lake.delta_plan import DELETED_AT, IS_DELETED
from ..lake.history_plan import IS_CURRENT

WINDOW_WIDTH = {"month": 7, "day": 10}  # characters of an ISO-8601 date-time
UNDATED = "undated"


@dataclass
class Source:
    """One stream's keys as the source's messages leave them."""

    keys: tuple[str, ...] = ()
    alive: dict[tuple[object, ...], bool] = field(default_factory=dict)
    dated_by: str | None = None  # CreatedDate, else the replication key
    dates: dict[tuple[object, ...], str | None] = field(default_factory=dict)


def _dated_by(message: dict) -> str | None:
    properties = (message.get("schema") or {}).get("properties") or {}
    if "CreatedDate" in properties:
        return "CreatedDate"
    bookmarks = message.get("bookmark_properties") or []
    return bookmarks[0] if bookmarks and bookmarks[0] in properties else None


def source_keys(lines: Iterable[str]) -> dict[str, Source]:
    """Stream -> its keys and whether each is alive after the last message about it."""
    streams: dict[str, Source] = {}
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        stream = message.get("stream")
        if message.get("type") == "SCHEMA":
            source = streams.setdefault(stream, Source())
            source.keys = tuple(message.get("key_properties") or ())
            source.dated_by = _dated_by(message)
        elif message.get("type") == "RECORD" and stream in streams and streams[stream].keys:
            record, source = message["record"], streams[stream]
            dead = bool(record.get(IS_DELETED)) or record.get(DELETED_AT) is not None
            key = tuple(record.get(k) for k in source.keys)
            source.alive[key] = not dead
            if source.dated_by and record.get(source.dated_by) is not None:
                source.dates.setdefault(key, str(record[source.dated_by]))
    return streams


def lake_rows(
    settings: Settings, stream: str, keys: tuple[str, ...], dated_by: str | None = None
) -> dict[tuple[object, ...], str | None]:
    """The keys of the stream's Delta table (its current rows, in history mode), each with its
    ``dated_by`` column as ISO-8601 text (None without one): one read for both."""
    from ..lake.delta import DeltaLake

    dataset = DeltaLake(settings).dataset(stream)  # Arrow's own filesystem: see table_dataset
    if dataset is None:
        return {}
    names = dataset.schema.names
    column = dated_by if dated_by in names else None
    table = dataset.to_table(
        columns=[*keys, column] if column else list(keys),
        filter=pc.field(IS_CURRENT) if IS_CURRENT in names else None,
    )
    ids = zip(*(table[k].to_pylist() for k in keys), strict=True)
    if column is None:
        return dict.fromkeys(ids)
    values = table[column]
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        values = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S")
    return dict(zip(ids, values.to_pylist(), strict=True))


def by_window(
    alive: set[tuple[object, ...]],
    landed: set[tuple[object, ...]],
    dates: dict[tuple[object, ...], str | None],
    width: int,
) -> list[dict]:
    """Per period (the first ``width`` characters of each key's date): keys at the source and
    in the lake, missing and extra; only periods holding a key, oldest first."""
    periods: dict[str, list[int]] = {}
    for key in alive | landed:
        date = dates.get(key)
        period = date[:width] if date else UNDATED
        counts = periods.setdefault(period, [0, 0, 0, 0])
        at_source, in_lake = key in alive, key in landed
        counts[0] += at_source
        counts[1] += in_lake
        counts[2] += at_source and not in_lake
        counts[3] += in_lake and not at_source
    return [
        {"window": period, "source_keys": c[0], "lake_keys": c[1], "missing": c[2], "extra": c[3]}
        for period, c in sorted(periods.items())
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="target-events reconcile",
        description="Compare the keys of a full source read (Singer messages on stdin) with the"
        " keys of the Delta tables; exit 1 with --strict when they differ.",
    )
    parser.add_argument("--config", required=True, help="the target's config (its destination)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any stream differs")
    parser.add_argument("--show", type=int, default=20, help="keys listed per stream and side")
    parser.add_argument(
        "--window",
        choices=sorted(WINDOW_WIDTH),
        help="also count per month or day of each key's CreatedDate (else replication key)",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_config(json.loads(Path(args.config).read_text()))
    differs = False
    report = []
    for stream, source in sorted(source_keys(sys.stdin).items()):
        if not source.keys:
            continue
        alive = {key for key, live in source.alive.items() if live}
        in_lake = lake_rows(settings, stream, source.keys, source.dated_by if args.window else None)
        landed = set(in_lake)
        missing, extra = sorted(alive - landed, key=str), sorted(landed - alive, key=str)
        differs = differs or bool(missing or extra)
        entry: dict[str, object] = {
            "stream": stream,
            "source_keys": len(alive),
            "lake_keys": len(landed),
            "missing": len(missing),
            "extra": len(extra),
            "missing_keys": [list(k) for k in missing[: args.show]],
            "extra_keys": [list(k) for k in extra[: args.show]],
        }
        if args.window and source.dated_by:
            # Extras are dated by the lake (the source no longer has them), the rest by the source.
            dates = {**in_lake, **source.dates}
            entry["window_field"] = source.dated_by
            entry["windows"] = by_window(alive, landed, dates, WINDOW_WIDTH[args.window])
        report.append(entry)
    for entry in report:
        print(json.dumps(entry, default=str))  # noqa: T201
    return 1 if args.strict and differs else 0
