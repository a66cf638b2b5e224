"""``python -m target_events.commands.summary DESTINATION``: what landed, and a first look at the decisions.

Prints per stream the rows and files, what the latest run added (so a second run shows that it was
incremental), events by type, and the slowest stage by median days spent in it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.fs as pafs

from ..report.metrics import DecisionMetrics
from ..report.source import stream_dataset
from ..store.storage import STAGING_DIR


def _files(root: Path, stream: Path) -> list[Path]:
    return sorted(p for p in stream.rglob("*.parquet") if STAGING_DIR not in p.parts)


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
    """Distinct events by type and the bottleneck stage, from the report's DuckDB metrics."""
    dataset = stream_dataset(pafs.LocalFileSystem(), str(events_dir.parent), events_dir.name)
    if dataset is None:
        return []
    report = DecisionMetrics(
        dataset,
        None,
        since=None,
        until=None,
        as_of=dt.datetime.now(dt.timezone.utc),
        critical_days=0,
    ).report()
    lines = ["", f"Decisions: {report['events']['total']:,} distinct events"]
    for event_type, count in report["events"]["by_type"].items():
        lines.append(f"  {event_type:<18} {count:>8,}")
    neck = report["stages"]["bottleneck"]
    if neck:
        lines.append(
            f"Slowest stage: {neck['stage']} (median {neck['median_days']:.1f} days before moving on, {neck['moves']} moves)"
        )
    lines.append(f"Full report: target-events report {events_dir.parent}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="target-events summary", description=__doc__)
    parser.add_argument("destination", type=Path)
    args = parser.parse_args(argv)
    if not args.destination.exists():
        print(f"nothing at {args.destination}", file=sys.stderr)  # noqa: T201
        return 1
    print(summarize(args.destination))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
