"""``python -m target_events.summary DESTINATION``: what landed, and a first look at the decisions.

Prints per stream the rows and files, what the latest run added (so a second run shows that it was
incremental), events by type, and the slowest stage by median days spent in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

STAGING = ".target-events-staging"


def _files(root: Path, stream: Path) -> list[Path]:
    return sorted(p for p in stream.rglob("*.parquet") if STAGING not in p.parts)


def summarize(root: Path) -> str:
    lines: list[str] = []
    manifests = sorted((root / "_manifests").glob("*.json"))
    latest = json.loads(manifests[-1].read_text()) if manifests else None
    streams = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    lines.append(f"Output in {root}  ({len(manifests)} run(s) so far)")
    lines.append(f"{'stream':<28} {'rows':>10} {'files':>6} {'last run':>10}")
    for stream in streams:
        files = _files(root, stream)
        rows = sum(ds.dataset(str(f), format="parquet").count_rows() for f in files)
        last = (latest or {}).get("streams", {}).get(stream.name, {}).get("rows", 0)
        lines.append(f"{stream.name:<28} {rows:>10,} {len(files):>6} {last:>10,}")
    if latest is not None:
        added = sum(s["rows"] for s in latest["streams"].values())
        kind = (
            "first run"
            if len(manifests) == 1
            else "incremental run (resumed from the stored STATE)"
        )
        lines.append(f"Latest run {latest['run_id']}: {added:,} rows written, {kind}")
    events_dir = root / "micro_decision_events"
    if events_dir.exists():
        lines += _decisions(events_dir)
    return "\n".join(lines)


def _decisions(events_dir: Path) -> list[str]:
    files = [str(f) for f in _files(events_dir.parent, events_dir)]
    table = ds.dataset(files, format="parquet").to_table(
        columns=["event_id", "event_type", "context"]
    )
    table = table.take(pc.sort_indices(table["event_id"]))
    unique = pc.unique(table["event_id"])
    lines = ["", f"Decisions: {len(unique):,} distinct events"]
    counts = pc.value_counts(table["event_type"]).to_pylist()
    for entry in sorted(counts, key=lambda e: -e["counts"]):
        lines.append(f"  {entry['values']:<18} {entry['counts']:>8,}")
    context = table["context"].combine_chunks()
    stages = pc.struct_field(context, "previous_stage")
    durations = pc.struct_field(context, "stage_duration_days")
    by_stage: dict[str, list[float]] = defaultdict(list)
    for stage, days in zip(stages.to_pylist(), durations.to_pylist(), strict=True):
        if stage is not None and days is not None:
            by_stage[stage].append(days)
    if by_stage:
        medians = {
            stage: float(pc.approximate_median(pa.array(values)).as_py())
            for stage, values in by_stage.items()
        }
        slowest = max(medians, key=medians.__getitem__)
        lines.append(
            f"Slowest stage: {slowest} (median {medians[slowest]:.1f} days before moving on, {len(by_stage[slowest])} moves)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    if not args.destination.exists():
        print(f"nothing at {args.destination}", file=sys.stderr)  # noqa: T201
        return 1
    print(summarize(args.destination))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
