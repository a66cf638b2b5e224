"""``target-events report DESTINATION``: read the landed events, print or write the report.

The destination and S3 access come from the command line or from the target's own config file
(``--config``), so the report reads exactly what the pipeline wrote. Errors are one line on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from ..errors import ReportError
from ..lake.history_plan import VALID_FROM, as_of_filter
from ..store.filesystems import S3Options, open_filesystem
from .html import render_html
from .metrics import DecisionMetrics
from .source import stream_dataset
from .text import render_text

EVENTS_STREAM = "micro_decision_events"
USERS_STREAM = "User"


def _moment(value: str) -> dt.datetime:
    """A date or an ISO-8601 timestamp; naive values are UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date or ISO-8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="target-events report",
        description="Decision analytics over the micro_decision_events that target-events landed.",
    )
    cli.add_argument(
        "destination", nargs="?", help="Local directory or s3://bucket/prefix (else from --config)."
    )
    cli.add_argument(
        "--config", type=Path, help="The target's config file: destination and S3 settings."
    )
    cli.add_argument(
        "--since", type=_moment, help="First day (or instant) of the period, inclusive."
    )
    cli.add_argument("--until", type=_moment, help="End of the period, exclusive.")
    cli.add_argument(
        "--as-of",
        type=_moment,
        help="End of the critical-changes window (default: --until, else now).",
    )
    cli.add_argument(
        "--critical-days",
        type=int,
        default=30,
        help="Critical setup changes of the last N days (default 30).",
    )
    cli.add_argument("--format", choices=("table", "json", "html"), default="table")
    cli.add_argument("--output", type=Path, help="Write to this file instead of stdout.")
    return cli  # fmt: skip


def build_report(args: argparse.Namespace) -> dict:
    config = json.loads(args.config.read_text()) if args.config else {}
    destination = args.destination or config.get("destination")
    if not destination:
        raise ReportError("no destination: pass DESTINATION or --config with a destination")
    s3 = S3Options.from_config(config)
    filesystem, base = open_filesystem(destination, s3)
    events = stream_dataset(filesystem, base, EVENTS_STREAM, s3)
    if events is None:
        raise ReportError(f"no {EVENTS_STREAM} files under {destination}")
    as_of = args.as_of or args.until or dt.datetime.now(dt.timezone.utc)
    users = stream_dataset(filesystem, base, USERS_STREAM, s3)
    if users is not None and VALID_FROM in users.schema.names:
        users = users.filter(as_of_filter(as_of))  # a history table: the names of that moment
    metrics = DecisionMetrics(
        events,
        users,
        since=args.since,
        until=args.until,
        as_of=as_of,
        critical_days=args.critical_days,
    )
    return {"destination": destination, **metrics.report()}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.critical_days < 0:
        print("target-events report: --critical-days must be zero or more", file=sys.stderr)  # noqa: T201
        return 2
    try:
        report = build_report(args)
    except (ReportError, OSError, ValueError) as error:
        print(f"target-events report: {error}", file=sys.stderr)  # noqa: T201
        return 1
    if args.format == "json":
        rendered = json.dumps(report, indent=2, default=str) + "\n"
    elif args.format == "html":
        rendered = render_html(report)
    else:
        rendered = render_text(report)
    if args.output:
        args.output.write_text(rendered, encoding="utf-8")
        print(f"Report written to {args.output}", file=sys.stderr)  # noqa: T201
    else:
        sys.stdout.write(rendered)
    return 0


if __name__ == "__main__":
    sys.exit(main())
