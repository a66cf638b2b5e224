"""``target-events as-of``: a history table's mirror as it was at a past moment.

A stream landed with ``lake_mode: history`` keeps every version of every key with
``_valid_from``/``_valid_to``; this command answers "what did the mirror hold at T" (one row
per key alive then, its version of then) without a query engine: a month-end close reads the
Account mirror as of the last second of the month. Written to stdout as JSON lines, or to a
Parquet or JSONL file that appears whole (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..config.settings import Settings
from ..errors import SettingError
from ..lake.history_plan import VALID_FROM, as_of_filter

SUFFIXES = (".parquet", ".jsonl")


def moment(value: str) -> dt.datetime:
    """An ISO-8601 instant with its zone (``Z`` or an offset): a naive time is ambiguous in a
    close, so it is refused rather than guessed."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"'{value}' has no time zone (add Z or an offset)")
    return parsed


def mirror_as_of(settings: Settings, stream: str, at: dt.datetime) -> pa.Table:
    """The rows of ``stream``'s history table valid at ``at``; a one-line error when the stream
    has no Delta table or keeps no history."""
    from ..lake.delta import DeltaLake

    if settings.format != "delta":
        raise SettingError(f"format: as-of reads Delta history tables, not {settings.format}")
    dataset = DeltaLake(settings).dataset(stream)
    if dataset is None:
        raise SettingError(f"stream '{stream}': no Delta table at the destination")
    if VALID_FROM not in dataset.schema.names:
        raise SettingError(
            f"stream '{stream}': its table keeps no history (lake_mode_streams: history)"
        )
    return dataset.to_table(filter=as_of_filter(at))


def _write(table: pa.Table, output: Path | None) -> None:
    if output is None:
        for row in table.to_pylist():
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        return
    if output.suffix not in SUFFIXES:
        raise SettingError(f"--output: {output.name} must end with {' or '.join(SUFFIXES)}")
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(handle, "w" if output.suffix == ".jsonl" else "wb") as file:
            if output.suffix == ".jsonl":
                file.writelines(json.dumps(row, default=str) + "\n" for row in table.to_pylist())
            else:
                pq.write_table(table, file)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="target-events as-of",
        description="A history table's mirror (lake_mode: history) as it was at a past moment.",
    )
    parser.add_argument("--config", required=True, help="the target's config (its destination)")
    parser.add_argument("--stream", required=True, help="the stream, e.g. Account")
    parser.add_argument("--at", required=True, type=moment, help="the moment, ISO-8601 with a zone")
    parser.add_argument("--output", type=Path, help="a .parquet or .jsonl file (else stdout)")
    args = parser.parse_args(argv)
    settings = Settings.from_config(json.loads(Path(args.config).read_text()))
    _write(mirror_as_of(settings, args.stream, args.at), args.output)
    return 0
