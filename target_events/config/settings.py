"""target-events settings: declared once for the SDK (``CONFIG_SCHEMA``), parsed once (``Settings``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from .batch_roots import default_batch_roots, parse_batch_roots
from .config_checks import (
    clean_endpoint_url,
    fail,
    integer,
    number,
    one_of,
    schema_error,
    show,
    text,
)
from .key_template import check_template

FORMATS = ("parquet", "jsonl", "csv", "delta")
PARQUET_COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
TEXT_COMPRESSIONS = ("gzip", "none")
GRANULARITIES = ("day", "month", "hour")
INVALID_RECORD_MODES = ("fail", "skip", "dead_letter")
QA_MODES = ("off", "advisory", "strict")
LAKE_MODES = ("current", "history")
DEFAULT_TEMPLATE = "{stream}/{partition}/{stream}-{run_id}-{seq:05d}.{ext}"
DEFAULT_PARTITIONS = {
    # Monthly: daily partitions wrote one small file per day touched per run (~700 per run on
    # the demo org), and a 15-minute schedule would add as many every run.
    "micro_decision_events": {"field": "timestamp_occurred", "granularity": "month"}
}
SECRET_SETTINGS = ("aws_secret_access_key", "aws_session_token")
# Upper bounds: beyond them a value is a typo, and some would overflow a float or a C integer.
MAX_BATCH_ROWS = 1_000_000_000
MAX_BATCH_BYTES = 1 << 40
MAX_AGE_SECONDS = 365 * 24 * 3600.0
# Vacuum deletes files a reader's or a concurrent writer's snapshot may still read: an hour covers
# a merge, a compaction and a report scan; shorter broke time travel and a concurrent writer.
MIN_VACUUM_RETENTION_HOURS = 1.0
MAX_ROW_DRIFT = 1_000_000.0

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("destination", th.StringType, required=True, title="Destination", description="A local directory or s3://bucket/prefix where files land."),
    th.Property("format", th.StringType, default="parquet", allowed_values=list(FORMATS), title="Format", description="parquet, jsonl, csv or delta (one Delta Lake table per stream, merged on its key)."),
    th.Property("compression", th.StringType, title="Compression", description="parquet and delta: zstd (default), snappy, gzip or none; jsonl/csv: gzip or none (default)."),
    th.Property("key_template", th.StringType, default=DEFAULT_TEMPLATE, title="Key template", description="Object key of each file; fields {stream} {partition} {run_id} {seq} {ext}."),
    th.Property("partition_by", th.ObjectType(additional_properties=th.ObjectType(th.Property("field", th.StringType), th.Property("granularity", th.StringType))), title="Partition by", description="Per stream: {field, granularity day|month|hour} for Hive partitions, or {granularity: none} for none; micro_decision_events defaults to timestamp_occurred by month. Not used by format delta."),
    th.Property("max_batch_rows", th.IntegerType, default=100_000, title="Max batch rows", description="Rows buffered per stream before a file is written."),
    th.Property("max_batch_bytes", th.IntegerType, default=128 * 1024 * 1024, title="Max batch bytes", description="Buffered Arrow bytes per stream before a file is written."),
    th.Property("max_batch_age_seconds", th.NumberType, default=300, title="Max batch age", description="Seconds after which buffered rows are written and STATE is emitted."),
    th.Property("dedup_key", th.ObjectType(additional_properties=th.ArrayType(th.StringType)), title="Dedup key", description="Per stream: fields whose last occurrence wins within a batch."),
    th.Property("on_invalid_record", th.StringType, default="fail", allowed_values=list(INVALID_RECORD_MODES), title="On invalid record", description="fail (default), skip (log and drop) or dead_letter (write to _dead_letter/)."),
    th.Property("write_manifest", th.BooleanType, default=True, title="Write manifest", description="Write a run manifest (files, rows, bytes, partitions, schema) under _manifests/ at the end."),
    th.Property("qa_mode", th.StringType, default="advisory", allowed_values=list(QA_MODES), title="QA mode", description="Data-quality check after each run (row counts, schema, null ratios, duplicate keys, drift against the previous manifest): off, advisory (warn, default) or strict (fail the run)."),
    th.Property("qa_max_row_drift", th.NumberType, default=0.5, title="QA max row drift", description="Largest accepted change of a stream's row count against the previous run, as a fraction (0.5 = ±50%)."),
    # -- format delta (target_events/lake/delta.py) --
    th.Property("full_refresh_streams", th.ArrayType(th.StringType), default=[], title="Full refresh streams", description="format delta: streams whose table this run replaces (one overwrite commit at the end) instead of merging into; an ACTIVATE_VERSION message does the same for its stream."),
    th.Property("lake_mode", th.StringType, default="current", allowed_values=list(LAKE_MODES), title="Lake mode", description="format delta: current (the table mirrors each key's latest row) or history (SCD type 2: every version of a key, with _valid_from, _valid_to, _is_current, _is_deleted) for streams with a key and a replication key; lake_mode_streams overrides it per stream."),
    th.Property("lake_mode_streams", th.ObjectType(additional_properties=th.StringType), title="Lake mode streams", description="format delta: lake_mode per stream, e.g. {\"Opportunity\": \"history\"}."),
    th.Property("lake_compact_after_files", th.IntegerType, default=16, title="Lake compact after files", description="format delta: compact (optimize) a table after a run once it holds this many small files (one run at a time per table: a lock locally, a conditional-put lease on S3)."),
    th.Property("lake_vacuum_retention_hours", th.NumberType, default=24, title="Lake vacuum retention hours", description="format delta: data files no longer in the table are deleted after this many hours (and log entries kept as long); at least 1, so no reader's or concurrent writer's snapshot loses its files."),
    th.Property("batch_roots", th.ArrayType(th.StringType), title="BATCH roots", description="Directories (local paths or file:// URIs) whose files BATCH messages may make the target read; a file resolving elsewhere (symlinks followed), a FIFO, a device or a file with other hard links is refused. Unset: the system temp directories (TMPDIR, /tmp, /var/tmp); set it to the tap's batch_config.storage.root to narrow it, [] to refuse every BATCH file."),
    th.Property("s3_endpoint_url", th.StringType, title="S3 endpoint URL", description="Endpoint of an S3-compatible store (MinIO, moto); https required except for loopback."),
    th.Property("aws_region", th.StringType, title="AWS region", description="Region of the bucket."),
    th.Property("aws_access_key_id", th.StringType, title="AWS access key id", description="Access key id (else the default credential chain or aws_profile)."),
    th.Property("aws_secret_access_key", th.StringType, secret=True, title="AWS secret access key", description="Secret access key."),
    th.Property("aws_session_token", th.StringType, secret=True, title="AWS session token", description="Session token for temporary credentials."),
    th.Property("aws_profile", th.StringType, title="AWS profile", description="Named profile from the AWS config files."),
    th.Property("s3_part_size_mb", th.IntegerType, default=64, title="S3 part size", description="Multipart upload part size in MiB; larger files upload in parts."),
).to_dict()  # fmt: skip


_fail = fail  # kept for callers of the old name


@dataclass(frozen=True)
class Partitioning:
    field: str
    granularity: str


@dataclass(frozen=True)
class Settings:
    destination: str
    format: str
    compression: str
    key_template: str
    partition_by: dict[str, Partitioning]
    max_batch_rows: int
    max_batch_bytes: int
    max_batch_age_seconds: float
    dedup_key: dict[str, tuple[str, ...]]
    on_invalid_record: str
    write_manifest: bool
    qa_mode: str = "advisory"
    qa_max_row_drift: float = 0.5
    s3_endpoint_url: str | None = None
    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    aws_profile: str | None = None
    s3_part_size_mb: int = 64
    full_refresh_streams: tuple[str, ...] = ()
    lake_mode: str = "current"
    lake_mode_streams: dict[str, str] = field(default_factory=dict)
    lake_compact_after_files: int = 16
    lake_vacuum_retention_hours: float = 24.0
    # Where BATCH files may be read from (target_events/config/batch_roots.py says why these defaults).
    batch_roots: tuple[str, ...] = field(default_factory=default_batch_roots)

    def history(self, stream: str) -> bool:
        """True when ``stream``'s Delta table keeps every version (``lake_mode: history``)."""
        return self.lake_mode_streams.get(stream, self.lake_mode) == "history"

    @property
    def is_s3(self) -> bool:
        return self.destination.startswith("s3://")

    @property
    def extension(self) -> str:
        base = {"parquet": "parquet", "jsonl": "jsonl", "csv": "csv", "delta": "parquet"}[
            self.format
        ]
        return f"{base}.gz" if self.format != "parquet" and self.compression == "gzip" else base

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Settings:
        """Parse and check every setting; the first problem is one line naming the setting.

        The JSON Schema pass comes first (types of every declared setting, the SDK's built-in ones
        included), worded without values; then ranges, enums and shapes the schema cannot say.
        """
        problem = schema_error(config, CONFIG_SCHEMA)
        if problem:
            raise ConfigValidationError(problem, errors=[problem])

        def get(name: str) -> Any:
            # Any: the schema pass above checked the JSON type of every declared setting.
            value = config.get(name)
            return CONFIG_SCHEMA["properties"][name].get("default") if value is None else value

        def optional(name: str) -> str | None:
            value = config.get(name)
            return None if value is None else text(name, value, secret=name in SECRET_SETTINGS)

        fmt = one_of("format", text("format", get("format")), FORMATS)
        columnar = fmt in ("parquet", "delta")
        compression = text(
            "compression", config.get("compression") or ("zstd" if columnar else "none")
        )
        allowed = PARQUET_COMPRESSIONS if columnar else TEXT_COMPRESSIONS
        if compression not in allowed:
            raise fail(
                "compression",
                f"{show(compression)} is not valid for format {fmt}; use one of {', '.join(allowed)}",
            )
        destination = text("destination", get("destination") or "")
        if not destination:
            raise fail("destination", "is required (a local path or s3://bucket/prefix)")
        if destination.startswith("s3://") and not re.fullmatch(
            r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9!_.*'()/=-]*)?", destination
        ):
            raise fail("destination", f"{show(destination)} is not a valid s3://bucket/prefix")
        if destination.startswith("s3://") and any(
            part in (".", "..") for part in destination[5:].split("/")[1:]
        ):
            raise fail("destination", "an S3 prefix must not contain '.' or '..' segments")
        template = check_template(text("key_template", get("key_template")))
        partitions = {name: Partitioning(**value) for name, value in DEFAULT_PARTITIONS.items()}
        for stream, spec in dict(get("partition_by") or {}).items():
            if isinstance(spec, Mapping) and spec.get("granularity") == "none":
                partitions.pop(stream, None)  # unpartitioned, the default's too
                continue
            if not isinstance(spec, Mapping) or not spec.get("field"):
                raise fail("partition_by", f"stream {show(stream)} needs a field")
            granularity = spec.get("granularity") or "day"
            if granularity not in GRANULARITIES:
                raise fail(
                    "partition_by",
                    f"stream {show(stream)}: granularity {show(granularity)} is not one of {', '.join(GRANULARITIES)} or none",
                )
            field_name = text("partition_by", spec["field"])
            partitions[stream] = Partitioning(field_name, str(granularity))
        dedup = {stream: tuple(keys) for stream, keys in dict(get("dedup_key") or {}).items()}
        mode = one_of(
            "on_invalid_record",
            text("on_invalid_record", get("on_invalid_record")),
            INVALID_RECORD_MODES,
        )
        qa_mode = one_of("qa_mode", text("qa_mode", get("qa_mode")), QA_MODES)
        endpoint = optional("s3_endpoint_url")
        region = optional("aws_region")
        if region is not None and not re.fullmatch(
            r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?", region
        ):
            # The region becomes part of AWS host names: it must be a plain host label.
            raise fail("aws_region", f"{show(region)} is not a region name (letters, digits, '-')")
        return cls(
            destination=destination,
            format=fmt,
            compression=compression,
            key_template=template,
            partition_by=partitions,
            max_batch_rows=integer("max_batch_rows", get("max_batch_rows"), 1, MAX_BATCH_ROWS),
            max_batch_bytes=integer("max_batch_bytes", get("max_batch_bytes"), 1024, MAX_BATCH_BYTES),
            max_batch_age_seconds=number("max_batch_age_seconds", get("max_batch_age_seconds"), positive=True, maximum=MAX_AGE_SECONDS),
            dedup_key=dedup,
            on_invalid_record=mode,
            write_manifest=bool(get("write_manifest")),
            qa_mode=qa_mode,
            qa_max_row_drift=number("qa_max_row_drift", get("qa_max_row_drift"), positive=False, maximum=MAX_ROW_DRIFT),
            s3_endpoint_url=None if endpoint is None else clean_endpoint_url("s3_endpoint_url", endpoint),
            aws_region=region,
            aws_access_key_id=optional("aws_access_key_id"),
            aws_secret_access_key=optional("aws_secret_access_key"),
            aws_session_token=optional("aws_session_token"),
            aws_profile=optional("aws_profile"),
            # S3 parts: 5 MiB to 5 GiB.
            s3_part_size_mb=integer("s3_part_size_mb", get("s3_part_size_mb"), 5, 5 * 1024),
            full_refresh_streams=tuple(text("full_refresh_streams", s) for s in get("full_refresh_streams") or ()),
            lake_mode=one_of("lake_mode", text("lake_mode", get("lake_mode")), LAKE_MODES),
            lake_mode_streams={text("lake_mode_streams", k): one_of("lake_mode_streams", text("lake_mode_streams", v), LAKE_MODES) for k, v in dict(get("lake_mode_streams") or {}).items()},
            lake_compact_after_files=integer("lake_compact_after_files", get("lake_compact_after_files"), 2, 1_000_000),
            lake_vacuum_retention_hours=vacuum_retention(get("lake_vacuum_retention_hours")),
            batch_roots=parse_batch_roots(config.get("batch_roots")),
        )  # fmt: skip


def vacuum_retention(value: object) -> float:
    """Hours, at least MIN_VACUUM_RETENTION_HOURS: refused below it, never truncated."""
    hours = number(
        "lake_vacuum_retention_hours", value, positive=False, maximum=MAX_AGE_SECONDS / 3600
    )
    if hours < MIN_VACUUM_RETENTION_HOURS:
        raise fail(
            "lake_vacuum_retention_hours",
            f"must be at least {MIN_VACUUM_RETENTION_HOURS:g}: files replaced sooner may still be"
            " read by a concurrent reader or writer (time travel and commits would break)",
        )
    return hours
