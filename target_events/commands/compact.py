"""``target-events compact DEST [--stream S]``: merge small Parquet files; optimize Delta tables.

Plain Parquet has no transaction log, so a compaction commits through a journal record that
readers consult (``visible_files``), in this order:

1. the merged file is written under a ``.pending`` name (no reader lists it: not ``*.parquet``);
2. the journal record ``_compactions/<stream>/<id>.json`` is written atomically, naming the
   files it replaces, the pending name and the final name: the compaction is now decided;
3. the pending file is renamed to its final ``.parquet`` name (atomic): readers switch at once,
   since a replaced file is skipped as soon as the merged file of its record exists;
4. the replaced files are deleted, and the record moves to ``_compactions/done/`` (the log).

Killed anywhere, nothing is lost or duplicated: before 2, an orphaned ``.pending`` file is
deleted by the next run; after 2, the next run finishes the record (renames, deletes). A reader
that does not apply the rule (a bare ``*.parquet`` glob) can see a record's rows twice only
between steps 3 and 4; Delta tables (``format: delta``) give every reader snapshot isolation.
Delta tables found under DEST are compacted with delta-rs' optimize, then vacuumed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..config.settings import Settings
from ..errors import ReportError
from ..lake.delta import DeltaLake
from ..store.filesystems import S3Options, open_filesystem
from ..store.journal import JOURNAL, PENDING, list_files, records, relative, visible_files
from ..store.staging import private_files

TARGET_MB = 128


@dataclass
class Job:
    """One merge: files of one partition (and one schema) into one file near the target size."""

    stream: str
    partition: str  # folder relative to the stream
    sources: list[str] = field(default_factory=list)  # paths relative to the destination
    bytes: int = 0


def _write_json(filesystem: pafs.FileSystem, path: str, value: dict) -> None:
    """Atomically: a temporary name, then a rename (a whole-object copy on S3)."""
    temp = f"{path}.tmp"
    filesystem.create_dir(path.rpartition("/")[0], recursive=True)
    with filesystem.open_output_stream(temp) as handle:
        handle.write(json.dumps(value, indent=2).encode())
    filesystem.move(temp, path)


def _finish(filesystem: pafs.FileSystem, base: str, path: str, record: dict) -> None:
    """Steps 3 and 4 of a decided record; safe to repeat after a kill at any point."""
    merged, pending = f"{base}/{record['merged']}", f"{base}/{record['pending']}"
    if filesystem.get_file_info(merged).type == pafs.FileType.NotFound:
        if filesystem.get_file_info(pending).type == pafs.FileType.NotFound:
            raise ReportError(f"compaction {record['id']}: neither {merged} nor {pending} exists")
        filesystem.move(pending, merged)
    for key in record["replaces"]:
        if filesystem.get_file_info(f"{base}/{key}").type != pafs.FileType.NotFound:
            filesystem.delete_file(f"{base}/{key}")
    _write_json(filesystem, f"{base}/{JOURNAL}/done/{record['id']}.json", record)
    filesystem.delete_file(path)


def recover(filesystem: pafs.FileSystem, base: str, stream: str) -> int:
    """Finish decided records and drop orphaned pending files of a killed compaction."""
    decided = records(filesystem, base, stream)
    for path, record in decided:
        _finish(filesystem, base, path, record)
    for info in list_files(filesystem, base, stream):
        if info.path.endswith(PENDING):
            filesystem.delete_file(info.path)
    return len(decided)


def plan(filesystem: pafs.FileSystem, base: str, stream: str, target_bytes: int) -> list[Job]:
    """Groups of two or more small files per partition and schema, each up to the target size."""
    groups: dict[tuple[str, str], list[pafs.FileInfo]] = defaultdict(list)
    for path in visible_files(filesystem, base, stream):
        info = filesystem.get_file_info(path)
        if info.size >= target_bytes // 2:
            continue  # already big enough
        folder = relative(f"{base}/{stream}", path).rpartition("/")[0]
        schema = pq.read_schema(path, filesystem=filesystem)
        groups[(folder, str(schema))].append(info)
    jobs: list[Job] = []
    for (folder, _), infos in sorted(groups.items()):
        job = Job(stream, folder)
        for info in sorted(infos, key=lambda i: i.path):
            if job.sources and job.bytes + info.size > target_bytes:
                jobs.append(job)
                job = Job(stream, folder)
            job.sources.append(relative(base, info.path))
            job.bytes += info.size
        jobs.append(job)
    return [j for j in jobs if len(j.sources) > 1]


def run_job(filesystem: pafs.FileSystem, base: str, job: Job, compression: str) -> dict:
    """Steps 1 to 4 for one job; returns its journal record."""
    ident = f"{secrets.token_hex(8)}"
    folder = f"{job.stream}/{job.partition}".rstrip("/")
    merged = f"{folder}/{job.stream}-compacted-{ident}.parquet"
    pending = merged + PENDING
    rows = 0
    schema = pq.read_schema(f"{base}/{job.sources[0]}", filesystem=filesystem)
    with (
        filesystem.open_output_stream(f"{base}/{pending}") as sink,
        pq.ParquetWriter(sink, schema, compression=compression) as writer,
    ):
        for key in job.sources:
            table = pq.read_table(f"{base}/{key}", filesystem=filesystem, partitioning=None)
            writer.write_table(table)
            rows += table.num_rows
    record = {
        "id": ident,
        "stream": job.stream,
        "partition": job.partition,
        "replaces": job.sources,
        "pending": pending,
        "merged": merged,
        "rows": rows,
    }
    path = f"{base}/{JOURNAL}/{job.stream}/{ident}.json"
    _write_json(filesystem, path, record)  # step 2: decided
    _finish(filesystem, base, path, record)
    return record


def streams_under(filesystem: pafs.FileSystem, base: str) -> list[str]:
    infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=False))
    return sorted(
        i.base_name
        for i in infos
        if i.type == pafs.FileType.Directory and not i.base_name.startswith(("_", "."))
    )


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="target-events compact",
        description="Merge small Parquet files per partition (journaled); optimize and vacuum Delta tables.",
    )
    cli.add_argument(
        "destination", nargs="?", help="Local directory or s3://bucket/prefix (else from --config)."
    )
    cli.add_argument(
        "--config", type=Path, help="The target's config file: destination and S3 settings."
    )
    cli.add_argument("--stream", action="append", help="Only this stream (repeatable).")
    cli.add_argument(
        "--target-size-mb", type=int, default=TARGET_MB, help="Size merged files aim at."
    )
    return cli  # fmt: skip


def compact(args: argparse.Namespace) -> list[dict]:
    config = json.loads(args.config.read_text()) if args.config else {}
    destination = args.destination or config.get("destination")
    if not destination:
        raise ReportError("no destination: pass DESTINATION or --config with a destination")
    s3 = S3Options.from_config(config)
    filesystem, base = open_filesystem(destination, s3)
    settings = Settings.from_config({**config, "destination": destination, "format": "delta"})
    compression = config.get("compression") or "zstd"
    results = []
    for stream in args.stream or streams_under(filesystem, base):
        if filesystem.get_file_info(f"{base}/{stream}/_delta_log").type == pafs.FileType.Directory:
            lake = DeltaLake(settings)
            with private_files():
                maintained = lake.maintain(lake.table_uri(stream), force=True)
            results.append({"stream": stream, "delta": maintained})
            continue
        recovered = recover(filesystem, base, stream)
        jobs = plan(filesystem, base, stream, args.target_size_mb * 1024 * 1024)
        done = [run_job(filesystem, base, job, compression) for job in jobs]
        results.append(
            {
                "stream": stream,
                "recovered": recovered,
                "merged_files": sum(len(r["replaces"]) for r in done),
                "into": len(done),
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        results = compact(args)
    except (ReportError, OSError, ValueError) as error:
        print(f"target-events compact: {error}", file=sys.stderr)  # noqa: T201
        return 1
    for result in results:
        print(json.dumps(result), file=sys.stderr)  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
