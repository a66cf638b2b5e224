"""target-events: any Singer stream to durable Parquet, JSONL, CSV or Delta, local or on S3.

The target wires the stages and keeps the SDK's message order: the reader
(``ingest/reader.py``) hands RECORD lines to the router (``ingest/router.py``), which gives them
to their stream's intake (``ingest/intake.py``: the one way into a sink, ``ingest/sinks.py``); a
full batch is landed (``land/outputs.py``, or a Delta merge: ``lake/``) and the STATE that
follows is passed on only then. Everything one run shares lives in its ledger
(``run/ledger.py``); the end of the run is ``run/run_end.py``.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from functools import cached_property
from typing import Any

import msgspec
import pyarrow as pa
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.sinks import Sink

from .config.config_checks import UNHONOURED_BUILTINS, schema_error, unhonoured
from .config.settings import CONFIG_SCHEMA, Settings
from .errors import InputError, Interrupted, SettingError
from .ingest.batch_files import BatchFileReader
from .ingest.intake import CHUNK_ROWS
from .ingest.reader import LineReader
from .ingest.router import Router
from .ingest.schema_checks import SchemaProblem, check_schema_message
from .ingest.sinks import EventsSink
from .lake.key_snapshots import LIVE_KEYS, KeySnapshotSink
from .run import run_end
from .run.ledger import RunLedger
from .sdk_hooks import TargetHooks, batch_encoding

# STATE passes through exactly as received: its numbers were decoded as Decimal (json_chunks) and
# go out as the same JSON numbers (json.dumps refused Decimal: STATE never came out).
_STATE_ENCODER = msgspec.json.Encoder(decimal_format="number")


def _use_system_allocator() -> None:
    """Arrow's default allocator (mimalloc) keeps what a long run frees: measured, the target's
    RSS climbed steadily from 150 to 300 MB over 14M rows, where the system allocator stays flat
    at 150 MB, no slower. An explicit ARROW_DEFAULT_MEMORY_POOL still wins."""
    if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        pa.set_memory_pool(pa.system_memory_pool())


class TargetEvents(TargetHooks):
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
        reader = self.message_reader
        self.ledger = RunLedger(
            self.settings, self.logger, input_line=lambda: getattr(reader, "line_number", 0)
        )
        self.router = Router(
            raw_records=self._identity_maps,
            after_records=self.after_records,
            drain_all=self.drain_all,
            logger=self.logger,
        )
        if isinstance(reader, LineReader):  # bench/baselines.py swaps in the SDK's reader
            reader.attach(self.router)
        self._max_age_seconds = self.settings.max_batch_age_seconds
        self._last_state_line = ""
        # Sinks drain one after another: joblib threads cost more than they save under the GIL.
        self.max_parallelism = 1

    def validate_settings(self, config: dict, *, raise_errors: bool) -> list[str]:
        """Every setting, the SDK's built-in ones too, checked and worded without secret values.

        Replaces the SDK's check, whose messages print the value (a secret key included), and
        raises ``SettingError`` rather than ``ConfigValidationError``: the SDK's handler for the
        latter logs two lines, and ``main`` prints one.
        """
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        problem = schema_error(config, schema) or unhonoured(config)
        if problem is None:
            try:
                self.settings = Settings.from_config(config)
            except ConfigValidationError as error:
                problem = str(error)
        if problem and raise_errors:
            raise SettingError(problem)
        return [problem] if problem else []

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_config(self.config)

    @property
    def run_id(self) -> str:
        return self.ledger.run_id

    def on_termination(self, signum: int) -> None:
        """Ctrl-C or an orchestrator's SIGTERM: the SDK's handler would exit 0 (done) on the
        spot. Stop with one line and 128 + the signal; the staging folder goes (``listen``)."""
        raise Interrupted(signum)

    def listen_ended(self) -> None:
        """However the run ends, its staging folder (temp files, QA spill) goes with it; a killed
        run's folder is removed by the next run on the destination."""
        self.ledger.close()

    @cached_property
    def _identity_maps(self) -> bool:
        """True when no stream maps, flattening or _sdc metadata change records on the way in."""
        config = self.config
        return not (
            config.get("stream_maps")
            or config.get("flattening_enabled")
            or config.get("add_record_metadata")
        )

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """``_sdc_live_keys`` (a tap's key snapshots) is staged and reconciled, never landed."""
        if stream_name == LIVE_KEYS:
            return KeySnapshotSink
        return super().get_sink_class(stream_name)

    def sink_added(self, stream_name: str, sink: Sink) -> None:
        """A new sink (first SCHEMA, or a changed one): the router routes to it when the stream's
        one map is the identity; other streams' records take the SDK's mapped path."""
        identity = self._records_kept(stream_name)
        self.router.track(stream_name, sink if identity and isinstance(sink, EventsSink) else None)

    def _records_kept(self, stream_name: str) -> bool:
        """The stream's records land as they come: its one map is the identity (not a map that
        hashes, drops or filters under the same name), no flattening, no _sdc metadata added.
        Anything else takes the SDK's mapped path, RECORD and BATCH alike."""
        if self.config.get("flattening_enabled") or self.config.get("add_record_metadata"):
            return False
        maps = self.mapper.stream_maps.get(stream_name) or []
        return (
            len(maps) == 1
            and type(maps[0]).__name__ == "SameRecordTransform"
            and maps[0].stream_alias == stream_name
        )

    # -- messages --
    def on_schema_message(self, message_dict: dict) -> None:
        """A schema the sinks cannot build on is one line naming the stream, not a traceback.

        The stream's replication key is kept: a Delta merge lets the newer row win by it."""
        check_schema_message(message_dict)
        self.ledger.load_kinds.on_schema(message_dict.get("stream"))
        bookmarks = message_dict.get("bookmark_properties")
        if isinstance(message_dict.get("stream"), str) and isinstance(bookmarks, list):
            self.ledger.bookmark_properties[message_dict["stream"]] = [str(b) for b in bookmarks]
        self.sdk_process_schema(message_dict)

    def on_state_message(self, message_dict: dict) -> None:
        self.ledger.load_kinds.on_state(message_dict.get("value"))
        self.sdk_process_state(message_dict)
        self.sdk_pass_state_when_idle()

    def on_activate_version_message(self, message_dict: dict) -> None:
        self._require_schema(message_dict, "ACTIVATE_VERSION")
        self.sdk_process_activate_version(message_dict)

    def on_batch_message(self, message_dict: dict) -> None:
        """BATCH files of a stream whose records land as they come: straight into its sink.
        A mapped stream's (a map that hashes, drops or filters): each record of the files goes
        through the maps as a RECORD message would; the SDK would hand the raw files to every
        alias's sink, the map never applied."""
        self._require_schema(message_dict, "BATCH")
        stream = message_dict["stream"]
        if self._records_kept(stream):
            self.sdk_process_batch(message_dict)
            return
        encoding = batch_encoding(message_dict["encoding"])
        if encoding.format not in ("parquet", "jsonl"):
            raise InputError(
                f"stream '{stream}': BATCH encoding {encoding.format!r} is not supported"
            )
        reader = BatchFileReader(
            stream,
            None,
            (),
            CHUNK_ROWS,
            roots=self.settings.batch_roots,
            input_line=self.ledger.input_line,
        )
        for uri in message_dict["manifest"]:
            for record in reader.records(uri, encoding.format, encoding.compression):
                self.on_record_message({"type": "RECORD", "stream": stream, "record": record})

    def _require_schema(self, message_dict: dict, kind: str) -> None:
        if message_dict.get("stream") not in self.mapper.stream_maps:
            raise SchemaProblem(f"{kind} before any SCHEMA message for this stream")

    def on_record_message(self, message_dict: dict) -> None:
        """A decoded RECORD of an identity-mapped stream: validate and buffer, without the SDK's
        per-record mapping; any other stream's: the SDK's path."""
        stream = message_dict.get("stream")
        record = message_dict.get("record")
        sink = self.router.sink(stream) if isinstance(stream, str) else None
        version = message_dict.get("version")
        if sink is None or not isinstance(record, dict):
            for stream_map in (
                self.mapper.stream_maps.get(stream, ()) if isinstance(stream, str) else ()
            ):
                alias = self.sdk_active_sink(stream_map.stream_alias)
                if isinstance(alias, EventsSink):
                    alias.use_version(version)
            self.sdk_process_record(message_dict)
            return
        sink.use_version(version)
        sink.check_record(record, None)
        sink.tally_record_read()
        sink.process_record(record, {})
        sink.record_counter_metric.increment()
        self.router.settle(sink)

    # -- flush policy and STATE --
    def after_records(self) -> None:
        """After any sink flushed (or the age limit passed), flush all and pass the STATE on.

        The SDK only emits STATE after a full drain; draining every sink as soon as one is written
        keeps STATE flowing at each durable flush while never covering unwritten records.
        """
        if (
            self.ledger.flushed_since_state
            or time.time() - self.sdk_last_full_drain_at > self._max_age_seconds
        ):
            self.drain_all()
            # After the drain: its own flushes must not trigger another drain on the next record.
            self.ledger.flushed_since_state = False

    def emit_state(self, state: dict) -> None:
        """Pass a STATE on once every record before it is durable (the SDK drains first), and
        not while a full refresh is owed; the same STATE is not repeated."""
        if self.ledger.opened("lake") and self.ledger.lake.holds_state:
            return  # a full refresh's rows reach the table only when it is replaced
        line = _STATE_ENCODER.encode(state).decode()
        if line == self._last_state_line:
            return
        self._last_state_line = line
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def process_endofpipe(self) -> None:
        """Drain (the last STATE goes out), then check quality, write the manifest and judge."""
        ledger = self.ledger
        _ = ledger.storage  # a refused destination stops here, in one line, before any check
        if self.settings.format == "delta":
            self.drain_all()  # STATE is held back until owed full refreshes are replaced
            if ledger.opened("lake") and ledger.lake.holds_state:
                run_end.replace_refreshed_tables(ledger)
        super().process_endofpipe()
        if self.settings.format == "delta":
            ledger.lake.maintain_written()
        run_end.finish(ledger)
