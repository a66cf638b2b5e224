"""``tap-salesforce-temporal plan --shards N --config CONFIG [--catalog CATALOG] --output DIR``.

Discovers, sends the COUNTs a run with ``api_type`` auto sends first (``counts.count_ahead``: the
same queries, one per selected object stream), splits the selected streams into N shards
(``shards.split``) and writes, for a scheduler to run one tap process per shard:

- ``DIR/<shard>.catalog.json``: the input catalog (or the discovered one) with only that shard's
  streams selected;
- ``DIR/plan.json``: ``{"shards": [{"shard", "streams", "rows", "catalog"}], "rows": {...}}``.

Each shard keeps its own STATE (Meltano: ``--state-id-suffix <shard>``). Streams without a COUNT
(``history_tracked_fields``; an object whose COUNT failed) weigh 0 rows in the balance.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from singer_sdk import Stream

from ..config import json_files
from ..streams.counts import count_ahead
from ..tap import TapSalesforceTemporal
from . import shards


def selected_streams(tap: TapSalesforceTemporal) -> list[Stream]:
    """The top-level streams a sync of this catalog would run (``sdk_begin_sync``'s rule)."""
    return [
        stream
        for stream in tap.streams.values()
        if (stream.selected or stream.has_selected_descendents) and not stream.parent_stream_type
    ]


def make_plan(config: dict, catalog: dict | None, count: int, output: Path) -> dict:
    # The COUNTs are the ones api_type auto sends; the plan needs them whatever the run's type.
    # The mapper is set up as for a sync: each stream's read depends on its emitter (stream maps).
    tap = TapSalesforceTemporal(config={**config, "api_type": "auto"}, catalog=catalog)
    streams = selected_streams(tap)
    counts = count_ahead(streams, tap.runtime)
    rows = {stream.name: counts.get(stream.name, 0) for stream in streams}
    base = catalog if catalog is not None else tap.catalog_dict
    output.mkdir(parents=True, exist_ok=True)
    entries = []
    for shard in shards.split(rows, count):
        path = output / f"{shard.name}.catalog.json"
        path.write_text(json.dumps(shards.shard_catalog(base, shard.streams), indent=1))
        entries.append({**shard.as_json(), "catalog": str(path)})
    plan = {"shards": entries, "rows": rows}
    (output / "plan.json").write_text(json.dumps(plan, indent=1))
    return plan


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="tap-salesforce-temporal plan",
        description="Split the selected streams into N shards balanced by rows (COUNTs).",
    )
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--catalog")
    parser.add_argument("--output", required=True, help="folder for plan.json and the catalogs")
    args = parser.parse_args(argv)
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    config = json_files.read_object(f"--config file {args.config}", args.config)
    catalog = None
    if args.catalog:
        catalog = json_files.read_object(f"--catalog file {args.catalog}", args.catalog)
    plan = make_plan(config, catalog, args.shards, Path(args.output))
    for shard in plan["shards"]:
        print(f"{shard['shard']}: {shard['rows']} rows, {', '.join(shard['streams'])}")  # noqa: T201
    print(f"plan: {Path(args.output) / 'plan.json'}")  # noqa: T201
    return 0
