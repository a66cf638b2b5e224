"""target-events: any Singer stream to durable Parquet, JSONL or CSV on local disk or S3."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import secrets
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import simplejson
from singer_sdk import Target
from singer_sdk.exceptions import (
    ConfigValidationError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine

if TYPE_CHECKING:
    from .delta import DeltaLake

from .config_checks import schema_error
from .delta import LakeError
from .errors import SettingError
from .quality import QualityCheck, QualityError
from .reader import LineReader
from .run_kind import LoadKinds
from .schema_checks import SchemaProblem, check_schema_message
from .settings import CONFIG_SCHEMA, Settings
from .sinks import EventsSink, FileEntry, InputError
from .storage import Storage, StorageError, open_storage

MANIFESTS_LOOKED_BACK = 50  # how far back a run of the same kind is looked for
SDK_INPUT_ERRORS = (RecordsWithoutSchemaException, MissingKeyPropertiesError, InvalidInputLine)
# Built-in SDK settings this target does not honour, with what to use instead. Not advertised by
# --about; set anyway, they stop the run rather than be ignored (a second run with
# load_method: overwrite would silently append). Files are immutable: see README "Load method".
UNHONOURED_BUILTINS = {
    "load_method": "target-events only appends new immutable files (append-only); "
    "deduplicate at read time on the stream's key (event_id for micro_decision_events)",
    "batch_size_rows": "use max_batch_rows",
}


def _unhonoured(config: Mapping[str, Any]) -> str | None:
    """The first unhonoured built-in the config sets, worded; None when there is none."""
    for name, instead in UNHONOURED_BUILTINS.items():
        value = config.get(name)
        if value is None or (name == "load_method" and value == "append-only"):
            continue
        shown = f"'{value}'" if isinstance(value, str) and len(value) < 40 else "a value"
        return f"setting '{name}': {shown} is not supported: {instead}"
    return None


def _use_system_allocator() -> None:
    """Arrow's default allocator (mimalloc) keeps what a long run frees: measured, the target's
    RSS climbed steadily from 150 to 300 MB over 14M rows, where the system allocator stays flat
    at 150 MB, no slower. An explicit ARROW_DEFAULT_MEMORY_POOL still wins."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


class TargetEvents(Target):
    """Batches Singer streams into files that appear only when complete; STATE follows durability."""

    name = "target-events"
    package_name = "tap-salesforce-temporal"
    # A copy: the SDK adds its built-in settings to this dict in place.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)
    default_sink_class = EventsSink
    message_reader_class = LineReader

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """The SDK's built-in settings, minus those this target does not honour."""
        super().append_builtin_config(config_jsonschema)
        for name in UNHONOURED_BUILTINS:
            config_jsonschema["properties"].pop(name, None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _use_system_allocator()
        super().__init__(*args, **kwargs)
        self.run_id = (
            dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
            + "-"
            + secrets.token_hex(3)
        )
        self.files: list[FileEntry] = []
        self.flushed_since_state = False
        self.invalid_records = 0
        self._seq: dict[str, int] = defaultdict(int)
        self._raw_sinks: dict[str, EventsSink] = {}
        self.load_kinds = LoadKinds()
        self.bookmark_properties: dict[str, list[str]] = {}  # per stream, from SCHEMA (delta)
        self._max_age_seconds = self.settings.max_batch_age_seconds
        reader = self.message_reader
        reader.on_error = self._flush_before_failing  # type: ignore[attr-defined]
        if self._identity_maps:
            reader.accept_record = self._accept_raw_record  # type: ignore[attr-defined]
            reader.accept_run = self._accept_run  # type: ignore[attr-defined]
            reader.before_message = self._seal_pending  # type: ignore[attr-defined]
        # Sinks drain one after another: joblib threads cost more than they save under the GIL.
        self.max_parallelism = 1

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Every setting, the SDK's built-in ones too, checked and worded without secret values.

        Replaces the SDK's check, whose messages print the value (a secret key included), and
        raises ``SettingError`` rather than ``ConfigValidationError``: the SDK's handler for the
        latter logs two lines, and ``main`` prints one.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        problem = schema_error(self._config, schema) or _unhonoured(self._config)
        if problem is None:
            try:
                self.settings = Settings.from_config(self._config)
            except ConfigValidationError as error:
                problem = str(error)
        if problem and raise_errors:
            raise SettingError(problem)
        return [problem] if problem else []

    def listen(self, file_input: Any = None) -> None:
        """However the run ends, its staging folder (temp files, QA spill) goes with it; a killed
        run's folder is removed by the next run on the destination."""
        try:
            super().listen(file_input)
        finally:
            if "quality" in self.__dict__:
                self.quality.close()
            if "storage" in self.__dict__:
                self.storage.close()

    def _flush_before_failing(self) -> None:
        """Write every valid record that came before the bad input, then pass the last STATE on."""
        try:
            self.drain_all()
            self.storage.close()
        except Exception as error:
            self.logger.warning("Could not flush pending records before stopping: %s", error)
        finally:
            if "quality" in self.__dict__:  # its spilled key files live outside the destination
                self.quality.close()

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings, self.run_id)

    @cached_property
    def quality(self) -> QualityCheck:
        return QualityCheck(
            self.settings.qa_mode,
            self.settings.qa_max_row_drift,
            workdir=self.storage.staging / "qa",
            tables=self.lake.dataset if self.settings.format == "delta" else None,
        )

    @cached_property
    def lake(self) -> DeltaLake:
        """format delta: the run's Delta tables (target_events/delta.py)."""
        from .delta import DeltaLake

        return DeltaLake(self.settings)

    @property
    def line_number(self) -> int:
        return self.message_reader.line_number  # type: ignore[attr-defined, no-any-return]

    def next_seq(self, stream: str) -> int:
        self._seq[stream] += 1
        return self._seq[stream]

    def get_sink_class(self, stream_name: str) -> type[EventsSink]:
        return EventsSink

    @cached_property
    def _identity_maps(self) -> bool:
        """True when no stream maps, flattening or _sdc metadata change records on the way in."""
        config = self.config
        return not (
            config.get("stream_maps")
            or config.get("flattening_enabled")
            or config.get("add_record_metadata")
        )

    def _process_schema_message(self, message_dict: dict) -> None:
        """A schema the sinks cannot build on is one line naming the stream, not a traceback.

        The stream's replication key is kept: a Delta merge lets the newer row win by it."""
        check_schema_message(message_dict)
        self.load_kinds.on_schema(message_dict.get("stream"))
        bookmarks = message_dict.get("bookmark_properties")
        if isinstance(message_dict.get("stream"), str) and isinstance(bookmarks, list):
            self.bookmark_properties[message_dict["stream"]] = [str(b) for b in bookmarks]
        super()._process_schema_message(message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        self.load_kinds.on_state(message_dict.get("value"))
        super()._process_state_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self._require_schema(message_dict, "ACTIVATE_VERSION")
        super()._process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        self._require_schema(message_dict, "BATCH")
        super()._process_batch_message(message_dict)

    def _require_schema(self, message_dict: dict, kind: str) -> None:
        if message_dict.get("stream") not in self.mapper.stream_maps:
            raise SchemaProblem(f"{kind} before any SCHEMA message for this stream")

    def _process_record_message(self, message_dict: dict) -> None:
        """Fast path for identity maps: validate, buffer, flush when full; else the SDK's path."""
        stream = message_dict.get("stream")
        record = message_dict.get("record")
        sink = (
            self._unmapped_sink(stream)
            if self._identity_maps and isinstance(stream, str) and isinstance(record, dict)
            else None
        )
        if sink is None:
            super()._process_record_message(message_dict)
            return
        sink._validate_and_parse(record)
        sink._singer_validate_message(record)
        sink.tally_record_read()
        sink.process_record(record, {})
        sink.record_counter_metric.increment()
        if sink.is_full:
            self.drain_one(sink)
        self._handle_max_record_age()

    def _accept_raw_record(self, stream: str, record: Any, line: int) -> bool:
        """Fastest path: the record stays raw bytes until its sink converts a chunk with Arrow.

        False (the reader then decodes the line and takes the path below) for a stream without
        an active sink, with a mapped alias, or of a schema only the per-record path handles.
        Sinks are looked up once per stream; any other message (a SCHEMA may replace a sink)
        clears the lookup first, through ``_seal_pending``.
        """
        sink = self._raw_sinks.get(stream) or self._raw_sink(stream)
        if sink is None:
            return False
        sink.accept_raw(record, line)
        if sink.is_full:
            self.drain_one(sink)
        self._handle_max_record_age()
        return True

    def _accept_run(self, stream: str, lines: bytes, count: int) -> bool:
        """A run of whole RECORD lines of one stream, converted by Arrow in one go; False when a
        line needs the per-line path (which then words any error with its line number)."""
        sink = self._raw_sinks.get(stream) or self._raw_sink(stream)
        if sink is None:
            return False
        assert sink.chunk_converter is not None
        table = sink.chunk_converter.convert_messages(lines, count)
        if table is None:
            return False
        offset = 0
        while offset < count:  # a batch never holds more than max_batch_rows
            part = table.slice(offset, sink.room)
            sink.accept_table(part)
            offset += part.num_rows
            if sink.is_full:
                self.drain_one(sink)
                self._handle_max_record_age()  # STATE follows the flush, as after a record
        self._handle_max_record_age()
        return True

    def _unmapped_sink(self, stream: str) -> EventsSink | None:
        """The stream's active sink when its one map is the identity, else None (SDK path)."""
        maps = self.mapper.stream_maps.get(stream)
        if not maps or len(maps) != 1 or maps[0].stream_alias != stream:
            return None
        sink = self._sinks_active.get(stream)
        return sink if isinstance(sink, EventsSink) else None

    def _raw_sink(self, stream: str) -> EventsSink | None:
        """The stream's sink when its records may skip the per-record path; remembered."""
        sink = self._unmapped_sink(stream)
        if sink is None or sink.chunk_converter is None:
            return None
        self._raw_sinks[stream] = sink
        return sink

    def _seal_pending(self) -> None:
        self._raw_sinks.clear()
        for sink in self._sinks_active.values():
            if isinstance(sink, EventsSink):
                sink.seal_pending()

    def _handle_max_record_age(self) -> None:
        """After any sink flushed (or the age limit passed), flush all and pass the STATE on.

        The SDK only emits STATE after a full drain; draining every sink as soon as one is written
        keeps STATE flowing at each durable flush while never covering unwritten records.
        """
        if (
            self.flushed_since_state
            or time.time() - self._last_full_drain_at > self._max_age_seconds
        ):
            self.drain_all()
            # After the drain: its own flushes must not trigger another drain on the next record.
            self.flushed_since_state = False

    def _write_state_message(self, state: dict) -> None:
        if "lake" in self.__dict__ and self.lake.holds_state:
            return  # a full refresh's rows reach the table only at the end of the run
        sys.stdout.write(json.dumps(state) + "\n")
        sys.stdout.flush()

    def process_endofpipe(self) -> None:
        """Drain (the last STATE goes out), check quality, write the manifest, then judge."""
        _ = self.storage  # a refused destination stops here, in one line, before any check
        if self.settings.format == "delta" and self.lake.refreshing:
            self.drain_all()  # STATE is held back until the refreshed tables are replaced
            self._replace_refreshed_tables()
        super().process_endofpipe()
        if self.settings.format == "delta":
            self.lake.maintain_written()
        verdict, broken = None, None
        try:
            verdict = self._check_quality() if self.quality.enabled else None
        except (OSError, StorageError, RuntimeError, ValueError) as error:  # duckdb's errors too
            broken = f"data quality check could not run: {type(error).__name__}: {error}"
            self.logger.warning("%s", broken)
        manifest = self.settings.write_manifest and bool(self.files)
        try:
            if manifest:
                self._write_manifest(verdict)
        finally:
            self.quality.close()
            self.storage.close()
        total = sum(f.rows for f in self.files)
        self.logger.info(
            "target-events run %s: %d files, %d rows, %d invalid records",
            self.run_id,
            len(self.files),
            total,
            self.invalid_records,
        )
        if self.settings.qa_mode != "strict":
            return
        if broken:
            raise QualityError(f"{broken} (qa_mode strict)")
        if verdict and verdict["findings"]:
            first, more = verdict["findings"][0], len(verdict["findings"]) - 1
            raise QualityError(
                f"data quality check failed (qa_mode strict): {first}"
                + (f" (+{more} more finding(s))" if more else "")
                + (f"; see _manifests/{self.run_id}.json" if manifest else "")
            )

    def _replace_refreshed_tables(self) -> None:
        for commit in self.lake.replace_staged():
            self.files.append(
                FileEntry(
                    f"{commit.stream}/_delta_log/{commit.version:020d}.json",
                    commit.uri,
                    commit.stream,
                    commit.rows,
                    0,
                    "",
                    "full-refresh",
                )
            )

    def _previous_manifests(self) -> Iterator[tuple[str, dict]]:
        """(key, manifest) of earlier runs, newest first (run ids sort by time), at most
        MANIFESTS_LOOKED_BACK of them; one that is not JSON is skipped with a warning."""
        keys = sorted(
            k
            for k in self.storage.list_keys("_manifests")
            if k.endswith(".json") and not k.endswith(f"/{self.run_id}.json")
        )
        for key in reversed(keys[-MANIFESTS_LOOKED_BACK:]):
            try:
                manifest = json.loads(self.storage.read_bytes(key))
            except ValueError:
                self.logger.warning("Previous manifest %s is not valid JSON; not compared", key)
                continue
            if isinstance(manifest, dict):
                yield key, manifest

    def _comparable_runs(self) -> tuple[dict | None, dict[str, tuple[str, dict]]]:
        """The last run's manifest, and per stream of this run the last run that loaded it the
        same way (full or incremental): drift is only measured like with like."""
        latest: dict | None = None
        same_kind: dict[str, tuple[str, dict]] = {}
        wanted = {stream: self.load_kinds.kind(stream) for stream in self.quality.streams}
        for _, manifest in self._previous_manifests():
            latest = manifest if latest is None else latest
            streams = manifest.get("streams")
            for stream, summary in (streams if isinstance(streams, dict) else {}).items():
                if (
                    stream in wanted
                    and stream not in same_kind
                    and isinstance(summary, dict)
                    and summary.get("load") == wanted[stream]  # runs before "load": never
                ):
                    same_kind[stream] = (str(manifest.get("run_id")), summary)
            if len(same_kind) == len(wanted):
                break
        return latest, same_kind

    def _check_quality(self) -> dict:
        latest, same_kind = self._comparable_runs()
        verdict = self.quality.evaluate(latest, self.load_kinds, same_kind)
        for finding in verdict["findings"]:
            self.logger.warning("Data quality: %s", finding)
        for stream, entry in verdict["streams"].items():
            self.logger.info(
                "Data quality: stream %s: %d rows, %s duplicate keys, drift %s",
                stream,
                entry["rows"],
                entry.get("duplicate_keys", "n/a"),
                entry.get("row_drift", "n/a"),
            )
        return verdict

    def _write_manifest(self, quality: dict | None) -> None:
        streams: dict[str, dict] = {}
        for entry in self.files:
            summary = streams.setdefault(
                entry.stream, {"files": 0, "rows": 0, "bytes": 0, "schema_fingerprints": []}
            )
            summary["files"] += 1
            summary["rows"] += entry.rows
            summary["bytes"] += entry.bytes
            if entry.schema_fingerprint not in summary["schema_fingerprints"]:
                summary["schema_fingerprints"].append(entry.schema_fingerprint)
            if entry.min_value is not None:
                summary["partition_min"] = min(
                    summary.get("partition_min", entry.min_value), entry.min_value
                )
                summary["partition_max"] = max(
                    summary.get("partition_max", entry.max_value), entry.max_value
                )  # type: ignore[type-var]
        manifest = {
            "run_id": self.run_id,
            "written_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "format": self.settings.format,
            "compression": self.settings.compression,
            "streams": streams,
            "files": [asdict(entry) for entry in self.files],
            "invalid_records": self.invalid_records,
            "quality": quality,
        }
        for stream, summary in streams.items():
            summary["columns"] = self.quality.columns(stream)
            summary["load"] = self.load_kinds.kind(stream)
        payload = json.dumps(manifest, indent=2, default=str)
        self.storage.put(
            f"_manifests/{self.run_id}.json", lambda path: path.write_text(payload), ".json"
        )


def main() -> None:
    """Console entry: bad input or a refused destination -> one line on stderr and exit code 1.

    Records that arrived before the bad line are still written, and their STATE passed on, so a
    restart from the last STATE loses nothing. ``target-events report ...`` runs the report instead.
    """
    if sys.argv[1:2] == ["report"]:
        from .report.cli import main as report_main

        sys.exit(report_main(sys.argv[2:]))
    if sys.argv[1:2] == ["compact"]:
        from .compact import main as compact_main

        sys.exit(compact_main(sys.argv[2:]))
    try:
        TargetEvents.cli()
    except (
        InputError,
        SettingError,
        StorageError,
        QualityError,
        LakeError,
        ConfigValidationError,
        *SDK_INPUT_ERRORS,
    ) as error:
        print(f"target-events: {error}", file=sys.stderr)  # noqa: T201
        sys.exit(1)
    except simplejson.JSONDecodeError as error:  # the SDK reading --config; no value shown
        print(  # noqa: T201
            f"target-events: the config file is not valid JSON: {error.msg} "
            f"(line {error.lineno} column {error.colno})",
            file=sys.stderr,
        )
        sys.exit(1)
