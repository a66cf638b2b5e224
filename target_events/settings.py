"""target-events settings: declared once for the SDK (``CONFIG_SCHEMA``), parsed once (``Settings``)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

FORMATS = ("parquet", "jsonl", "csv", "delta")
PARQUET_COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
TEXT_COMPRESSIONS = ("gzip", "none")
GRANULARITIES = ("day", "month", "hour")
INVALID_RECORD_MODES = ("fail", "skip", "dead_letter")
QA_MODES = ("off", "advisory", "strict")
DEFAULT_TEMPLATE = "{stream}/{partition}/{stream}-{run_id}-{seq:05d}.{ext}"
DEFAULT_PARTITIONS = {
    # Monthly: daily partitions wrote one small file per day touched per run (~700 per run on
    # the demo org), and a 15-minute schedule would add as many every run.
    "micro_decision_events": {"field": "timestamp_occurred", "granularity": "month"}
}
SECRET_SETTINGS = ("aws_secret_access_key", "aws_session_token")

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("destination", th.StringType, required=True, title="Destination", description="A local directory or s3://bucket/prefix where files land."),
    th.Property("format", th.StringType, default="parquet", allowed_values=list(FORMATS), title="Format", description="parquet, jsonl, csv or delta (one Delta Lake table per stream, merged on its key)."),
    th.Property("compression", th.StringType, title="Compression", description="parquet and delta: zstd (default), snappy, gzip or none; jsonl/csv: gzip or none (default)."),
    th.Property("key_template", th.StringType, default=DEFAULT_TEMPLATE, title="Key template", description="Object key of each file; fields {stream} {partition} {run_id} {seq} {ext}."),
    th.Property("partition_by", th.ObjectType(additional_properties=th.ObjectType(th.Property("field", th.StringType), th.Property("granularity", th.StringType))), title="Partition by", description="Per stream: {field, granularity day|month|hour} for Hive partitions; micro_decision_events defaults to timestamp_occurred by month. Not used by format delta."),
    th.Property("max_batch_rows", th.IntegerType, default=100_000, title="Max batch rows", description="Rows buffered per stream before a file is written."),
    th.Property("max_batch_bytes", th.IntegerType, default=128 * 1024 * 1024, title="Max batch bytes", description="Buffered Arrow bytes per stream before a file is written."),
    th.Property("max_batch_age_seconds", th.NumberType, default=300, title="Max batch age", description="Seconds after which buffered rows are written and STATE is emitted."),
    th.Property("dedup_key", th.ObjectType(additional_properties=th.ArrayType(th.StringType)), title="Dedup key", description="Per stream: fields whose last occurrence wins within a batch."),
    th.Property("on_invalid_record", th.StringType, default="fail", allowed_values=list(INVALID_RECORD_MODES), title="On invalid record", description="fail (default), skip (log and drop) or dead_letter (write to _dead_letter/)."),
    th.Property("write_manifest", th.BooleanType, default=True, title="Write manifest", description="Write a run manifest (files, rows, bytes, partitions, schema) under _manifests/ at the end."),
    th.Property("qa_mode", th.StringType, default="advisory", allowed_values=list(QA_MODES), title="QA mode", description="Data-quality check after each run (row counts, schema, null ratios, duplicate keys, drift against the previous manifest): off, advisory (warn, default) or strict (fail the run)."),
    th.Property("qa_max_row_drift", th.NumberType, default=0.5, title="QA max row drift", description="Largest accepted change of a stream's row count against the previous run, as a fraction (0.5 = ±50%)."),
    # -- format delta (target_events/delta.py) --
    th.Property("full_refresh_streams", th.ArrayType(th.StringType), default=[], title="Full refresh streams", description="format delta: streams whose table this run replaces (one overwrite commit at the end) instead of merging into; an ACTIVATE_VERSION message does the same for its stream."),
    th.Property("lake_compact_after_files", th.IntegerType, default=16, title="Lake compact after files", description="format delta: compact (optimize) a table after a run once it holds this many small files."),
    th.Property("lake_vacuum_retention_hours", th.NumberType, default=24, title="Lake vacuum retention hours", description="format delta: data files no longer in the table are deleted after this many hours (and log entries kept as long)."),
    th.Property("s3_endpoint_url", th.StringType, title="S3 endpoint URL", description="Endpoint of an S3-compatible store (MinIO, moto); https required except for loopback."),
    th.Property("aws_region", th.StringType, title="AWS region", description="Region of the bucket."),
    th.Property("aws_access_key_id", th.StringType, title="AWS access key id", description="Access key id (else the default credential chain or aws_profile)."),
    th.Property("aws_secret_access_key", th.StringType, secret=True, title="AWS secret access key", description="Secret access key."),
    th.Property("aws_session_token", th.StringType, secret=True, title="AWS session token", description="Session token for temporary credentials."),
    th.Property("aws_profile", th.StringType, title="AWS profile", description="Named profile from the AWS config files."),
    th.Property("s3_part_size_mb", th.IntegerType, default=64, title="S3 part size", description="Multipart upload part size in MiB; larger files upload in parts."),
).to_dict()  # fmt: skip


def _fail(setting: str, problem: str) -> ConfigValidationError:
    message = f"setting '{setting}': {problem}"
    return ConfigValidationError(message, errors=[message])


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
    lake_compact_after_files: int = 16
    lake_vacuum_retention_hours: float = 24.0

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
        def get(name: str) -> object:
            value = config.get(name)
            return CONFIG_SCHEMA["properties"][name].get("default") if value is None else value

        fmt = str(get("format"))
        if fmt not in FORMATS:
            raise _fail("format", f"'{fmt}' is not one of {', '.join(FORMATS)}")
        columnar = fmt in ("parquet", "delta")
        compression = config.get("compression") or ("zstd" if columnar else "none")
        allowed = PARQUET_COMPRESSIONS if columnar else TEXT_COMPRESSIONS
        if compression not in allowed:
            raise _fail(
                "compression",
                f"'{compression}' is not valid for format {fmt}; use one of {', '.join(allowed)}",
            )
        destination = str(get("destination") or "")
        if not destination:
            raise _fail("destination", "is required (a local path or s3://bucket/prefix)")
        if destination.startswith("s3://") and not re.fullmatch(
            r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?", destination
        ):
            raise _fail("destination", f"'{destination}' is not a valid s3://bucket/prefix")
        template = str(get("key_template"))
        for required in ("{stream}", "{run_id}", "{seq"):
            if required not in template:
                raise _fail(
                    "key_template",
                    f"must contain {required}}} so file names stay unique"
                    if required == "{seq"
                    else f"must contain {required} so file names stay unique",
                )
        partitions = {name: Partitioning(**value) for name, value in DEFAULT_PARTITIONS.items()}
        for stream, spec in dict(get("partition_by") or {}).items():  # type: ignore[call-overload]
            if not isinstance(spec, Mapping) or not spec.get("field"):
                raise _fail("partition_by", f"stream '{stream}' needs a field")
            granularity = spec.get("granularity", "day")
            if granularity not in GRANULARITIES:
                raise _fail(
                    "partition_by",
                    f"stream '{stream}': granularity '{granularity}' is not one of {', '.join(GRANULARITIES)}",
                )
            partitions[stream] = Partitioning(str(spec["field"]), str(granularity))
        dedup = {stream: tuple(keys) for stream, keys in dict(get("dedup_key") or {}).items()}  # type: ignore[call-overload]
        mode = str(get("on_invalid_record"))
        if mode not in INVALID_RECORD_MODES:
            raise _fail(
                "on_invalid_record", f"'{mode}' is not one of {', '.join(INVALID_RECORD_MODES)}"
            )
        qa_mode = str(get("qa_mode"))
        if qa_mode not in QA_MODES:
            raise _fail("qa_mode", f"'{qa_mode}' is not one of {', '.join(QA_MODES)}")
        settings = cls(
            destination=destination,
            format=fmt,
            compression=str(compression),
            key_template=template,
            partition_by=partitions,
            max_batch_rows=int(get("max_batch_rows")),  # type: ignore[call-overload]
            max_batch_bytes=int(get("max_batch_bytes")),  # type: ignore[call-overload]
            max_batch_age_seconds=float(get("max_batch_age_seconds")),  # type: ignore[arg-type]
            dedup_key=dedup,
            on_invalid_record=mode,
            write_manifest=bool(get("write_manifest")),
            qa_mode=qa_mode,
            qa_max_row_drift=float(get("qa_max_row_drift")),  # type: ignore[arg-type]
            s3_endpoint_url=config.get("s3_endpoint_url"),  # type: ignore[arg-type]
            aws_region=config.get("aws_region"),  # type: ignore[arg-type]
            aws_access_key_id=config.get("aws_access_key_id"),  # type: ignore[arg-type]
            aws_secret_access_key=config.get("aws_secret_access_key"),  # type: ignore[arg-type]
            aws_session_token=config.get("aws_session_token"),  # type: ignore[arg-type]
            aws_profile=config.get("aws_profile"),  # type: ignore[arg-type]
            s3_part_size_mb=int(get("s3_part_size_mb")),  # type: ignore[call-overload]
            full_refresh_streams=tuple(str(s) for s in get("full_refresh_streams") or ()),  # type: ignore[attr-defined]
            lake_compact_after_files=int(get("lake_compact_after_files")),  # type: ignore[call-overload]
            lake_vacuum_retention_hours=float(get("lake_vacuum_retention_hours")),  # type: ignore[arg-type]
        )
        for name, minimum in (
            ("max_batch_rows", 1),
            ("max_batch_bytes", 1024),
            ("s3_part_size_mb", 5),
            ("lake_compact_after_files", 2),
        ):
            if getattr(settings, name) < minimum:
                raise _fail(name, f"must be at least {minimum}")
        if settings.max_batch_age_seconds <= 0:
            raise _fail("max_batch_age_seconds", "must be positive")
        if settings.lake_vacuum_retention_hours < 0:
            raise _fail("lake_vacuum_retention_hours", "must be zero or more")
        if settings.qa_max_row_drift < 0:
            raise _fail("qa_max_row_drift", "must be zero or more")
        if settings.s3_endpoint_url:
            host = urllib.parse.urlsplit(settings.s3_endpoint_url).hostname or ""
            if not settings.s3_endpoint_url.startswith("https://") and host not in (
                "127.0.0.1",
                "localhost",
                "::1",
            ):
                raise _fail(
                    "s3_endpoint_url", "plain http is only allowed for loopback hosts; use https"
                )
        return settings
