"""One sink per stream and schema: buffer records as Arrow, hand full batches to the output.

Records arrive three ways, all into one buffer: raw RECORD objects (converted a chunk at a time by
``json_chunks.ChunkConverter``), runs already converted by the reader's router, and decoded records
of the per-record path (stream maps, lines a chunk refused), which the compiled checks judge with
their input line. A batch is flushed when full by rows, bytes or age; ``outputs`` makes it durable.
The sink knows the run only through its ledger (``ledger.py``), never the target.
"""

from __future__ import annotations

import time
from functools import cached_property
from typing import Any

import pyarrow as pa
from singer_sdk.exceptions import MissingKeyPropertiesError

from .arrow import InvalidRecord, StreamSchema
from .batch_files import BatchFileReader
from .delta_plan import MergePlan, plan_for
from .errors import InputError
from .json_chunks import ChunkConverter, decode_json
from .outputs import StreamOutput, dedup_last
from .schema_checks import SchemaProblem, check_dedup_key, partition_problem
from .sdk_hooks import SinkHooks, TargetHooks

CHUNK_ROWS = 5_000
# What Arrow raises for a value it cannot store (out of range, no such date).
CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError)


class MissingKey(InvalidRecord):
    """A record without one of its stream's key properties."""


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """Stops the run; also the SDK's exception type, which callers and its test suite expect."""


class EventsSink(SinkHooks):
    """Buffers one stream's records and writes them as durable files."""

    def __init__(
        self, target: TargetHooks, stream_name: str, schema: dict, key_properties: Any
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.ledger = target.ledger
        self.settings = self.ledger.settings
        self.stream_schema = StreamSchema.from_json_schema(schema)
        # Raw RECORD objects (bytes) and their input lines, converted CHUNK_ROWS at a time.
        self._known_fields = frozenset(self.stream_schema.properties)
        self._named_unknown: set[str] = set()
        self.chunk_converter = ChunkConverter.for_schema(
            self.stream_schema.properties,
            self.stream_schema.arrow,
            tuple(key_properties or ()),
            self._name_unknown_fields,
        )
        self._raw: list = []
        self._raw_lines: list[int] = []
        self._rows: list[dict] = []
        self._row_lines: list[int] = []
        self._chunks: list[pa.Table] = []
        self._chunk_bytes = 0
        self._pending = 0
        self._skip_current = False
        self._dead: list[dict] = []
        self.partitioning = self.settings.partition_by.get(stream_name)
        if self.partitioning:
            problem = partition_problem(self.partitioning.field, self.stream_schema.arrow)
            if problem and stream_name not in (self.config.get("partition_by") or {}):
                # The default partitioning, on a stream another tap shaped differently: stop
                # rather than guess, and say how to choose (the rows before are kept).
                problem += (
                    f" (the default for {stream_name}); set partition_by.{stream_name} to a"
                    ' date-time field, or {"granularity": "none"}'
                )
            if problem:
                raise SchemaProblem(problem)
        self.dedup_key = self.settings.dedup_key.get(stream_name)
        if self.dedup_key:
            check_dedup_key(self.dedup_key, self.stream_schema.arrow)
        self.first_record_at: float | None = None
        # format delta: the full-table version of the buffered records (RECORD ``version``); a
        # batch never mixes versions, since each version goes to a table of its own.
        self.version: int | None = None
        keys = tuple(key_properties or ())
        self.output = StreamOutput(
            self.ledger, stream_name, self.stream_schema, keys, self.partitioning, self.logger
        )
        self.batch_files = BatchFileReader(
            stream_name,
            self.stream_schema,
            keys,
            min(CHUNK_ROWS * 10, self.settings.max_batch_rows),
            roots=self.settings.batch_roots,
            input_line=self.ledger.input_line,
        )

    # -- sizing --
    @property
    def max_size(self) -> int:
        return self.settings.max_batch_rows

    @property
    def current_size(self) -> int:
        """Rows and dead letters waiting: a sink holding only invalid records still gets drained."""
        return self._pending + len(self._dead)

    @property
    def room(self) -> int:
        """Rows that still fit in the batch (at least one: a full batch is drained first)."""
        return max(1, self.settings.max_batch_rows - self._pending)

    @property
    def is_full(self) -> bool:
        return (
            self._pending >= self.settings.max_batch_rows
            or self._chunk_bytes >= self.settings.max_batch_bytes
        )

    # -- per record --
    def check_record(self, record: dict, line: int | None) -> dict:
        """Compiled checks instead of generic JSON Schema validation; strings stay strings."""
        self._skip_current = False
        try:
            keys = self.key_properties or ()
            missing = [key for key in keys if key not in record]
            if missing:
                raise MissingKey(f"missing key property {', '.join(map(repr, missing))}")
            nulls = [key for key in keys if record[key] is None]
            if nulls:  # a row no key can find: never merged, never deduplicated, never deleted
                raise MissingKey(f"key property {', '.join(map(repr, nulls))} is null")
            self.stream_schema.check(record)
        except InvalidRecord as error:
            self._reject(error, record, self.ledger.input_line() if line is None else line)
        if not self._known_fields.issuperset(record):
            self._name_unknown_fields([name for name in record if name not in self._known_fields])
        return record

    def _name_unknown_fields(self, names: list[str]) -> None:
        """Record keys the schema does not declare have no column: say so once per field."""
        for name in names:
            if name not in self._named_unknown:
                self._named_unknown.add(name)
                self.logger.warning(
                    "Stream %s: record field '%s' is not in the schema; its values are dropped"
                    " (said once per stream and field)",
                    self.stream_name,
                    name,
                )

    def _reject(self, error: InvalidRecord, record: dict, line: int) -> None:
        """An invalid record: stop the run (fail), or drop it (skip) or set it aside (dead_letter)."""
        message = f"stream '{self.stream_name}', input line {line}: {error}"
        mode = self.settings.on_invalid_record
        if mode == "fail":
            failure = MissingKeyError if isinstance(error, MissingKey) else InputError
            raise failure(message) from error
        self._skip_current = True
        self.ledger.invalid_records += 1
        if mode == "dead_letter":
            self._dead.append(
                {"line": line, "stream": self.stream_name, "error": str(error), "record": record}
            )
        self.logger.warning("Skipped invalid record (%s): %s", mode, message)

    def process_record(self, record: dict, context: dict) -> None:
        if self._skip_current:
            return
        if self._raw:
            self._seal_raw()  # rows keep their input order (dedup keeps the last one)
        self._append_row(record, self.ledger.input_line())

    def _append_row(self, record: dict, line: int) -> None:
        if self.first_record_at is None:
            self.first_record_at = time.monotonic()
        self._rows.append(record)
        self._row_lines.append(line)
        self._pending += 1
        if len(self._rows) >= CHUNK_ROWS:
            self._seal_chunk()

    def accept_raw(self, record: bytes, line: int) -> None:
        """Buffer one RECORD's raw ``record`` object; the fast path of identity-mapped streams."""
        if self._rows:
            self._seal_chunk()  # rows keep their input order (dedup keeps the last one)
        if self.first_record_at is None:
            self.first_record_at = time.monotonic()
        self._raw.append(record)
        self._raw_lines.append(line)
        self._pending += 1
        if len(self._raw) >= CHUNK_ROWS:
            self._seal_raw()

    def accept_table(self, table: pa.Table) -> None:
        """Records already converted and checked (a run of RECORD lines), after what is pending."""
        self.seal_pending()  # rows keep their input order (dedup keeps the last one)
        if self.first_record_at is None:
            self.first_record_at = time.monotonic()
        self.tally_record_read(table.num_rows)
        self.record_counter_metric.increment(table.num_rows)
        self._chunks.append(table)
        self._chunk_bytes += table.nbytes
        self._pending += table.num_rows

    def _seal_raw(self) -> None:
        """Convert the raw chunk in one go, or, when the converter declines, record by record:
        the per-record path decides every error (fail, skip, dead letter) with its input line."""
        if not self._raw:
            return
        raws, lines = self._raw, self._raw_lines
        self._raw, self._raw_lines = [], []
        self.tally_record_read(len(raws))
        self.record_counter_metric.increment(len(raws))
        assert self.chunk_converter is not None  # accept_raw is only used when there is one
        table = self.chunk_converter.convert(raws)
        if table is not None:
            self._chunks.append(table)
            self._chunk_bytes += table.nbytes
            return
        self._pending -= len(raws)
        for raw, line in zip(raws, lines, strict=True):
            record = decode_json(raw, line)
            if not isinstance(record, dict):
                raise InputError(
                    f"stream '{self.stream_name}', input line {line}: a RECORD's record must be a JSON object, got {type(record).__name__}"
                )
            self.check_record(record, line)
            if not self._skip_current:
                self._append_row(record, line)

    def seal_pending(self) -> None:
        """Raw records become Arrow now (before a STATE, a SCHEMA or a flush is handled)."""
        self._seal_raw()
        self._seal_chunk()

    def _seal_chunk(self) -> None:
        if not self._rows:
            return
        rows, lines = self._rows, self._row_lines
        self._rows, self._row_lines = [], []
        try:
            table = self.stream_schema.to_table(rows)
        except CONVERSION_ERRORS:
            table = self._convert_row_by_row(rows, lines)
        self._chunks.append(table)
        self._chunk_bytes += table.nbytes

    def _convert_row_by_row(self, rows: list[dict], lines: list[int]) -> pa.Table:
        """A value the checks passed but Arrow cannot store is an invalid record like any other,
        named with its input line; the rows before it are kept (a net under the checks)."""
        tables: list[pa.Table] = []
        for index, (row, line) in enumerate(zip(rows, lines, strict=True)):
            try:
                tables.append(self.stream_schema.to_table([row]))
            except CONVERSION_ERRORS as error:
                self._pending -= 1
                if self.settings.on_invalid_record == "fail":
                    self._pending -= len(rows) - index - 1  # after the bad line: never written
                    self._chunks.extend(tables)
                    self._chunk_bytes += sum(t.nbytes for t in tables)
                problem = InvalidRecord(
                    f"a value cannot be stored: {type(error).__name__}: {error}"
                )
                self._reject(problem, row, line)
        return pa.concat_tables(tables) if tables else self.stream_schema.arrow.empty_table()

    # -- flush --
    def process_batch(self, context: dict) -> None:
        """Pipeline: seal buffered rows, dedup, observe for QA, write (or merge), dead letters."""
        self.seal_pending()
        if self._chunks:
            table = pa.concat_tables(self._chunks)
            self._chunks, self._chunk_bytes, self._pending = [], 0, 0
            if self.dedup_key:
                deduped = dedup_last(table, self.dedup_key)
                if deduped.num_rows != table.num_rows:
                    self.tally_duplicate_merged(table.num_rows - deduped.num_rows)
                table = deduped
            self.ledger.quality.observe(self.stream_name, table, tuple(self.key_properties or ()))
            if self.settings.format == "delta":
                self.output.commit_delta(table, self.merge_plan, self.version)
            else:
                self.output.write(table)
        self.output.dead_letters(self._dead)
        self._dead = []
        self.first_record_at = None
        self.ledger.flushed_since_state = True

    def drain(self) -> None:
        """Flush now, as the SDK's ``Target.drain_one`` would: a BATCH file larger than a batch
        is written as it is read, never held whole."""
        if self.current_size == 0:
            return
        status = self.start_drain()
        with self.batch_processing_timer:
            self.process_batch(status)
        self.mark_drained()

    # -- BATCH messages --
    def process_batch_files(self, encoding: Any, files: Any) -> None:
        """Stream BATCH files into the buffer: Parquet by record batch, JSONL line by line."""
        if encoding.format not in ("parquet", "jsonl"):
            raise InputError(
                f"stream '{self.stream_name}': BATCH encoding {encoding.format!r} is not supported"
            )
        for uri in files:
            if encoding.format == "parquet":
                for table in self.batch_files.parquet_tables(uri):
                    self._seal_chunk()
                    self._chunks.append(table)
                    self._chunk_bytes += table.nbytes
                    self._pending += table.num_rows
                    if self.is_full:
                        self.drain()
                continue
            for record in self.batch_files.jsonl_records(uri, encoding.compression):
                self.check_record(record, None)
                self.process_record(record, {})
                if self.is_full:
                    self.drain()

    # -- format delta (target_events/delta.py) --
    @cached_property
    def merge_plan(self) -> MergePlan:
        bookmarks = self.ledger.bookmark_properties.get(self.stream_name)
        return plan_for(list(self.stream_schema.properties), self.key_properties, bookmarks)

    @property
    def keeps_versions(self) -> bool:
        """format delta: RECORD versions decide where rows go (other formats keep every row)."""
        return self.settings.format == "delta"

    def use_version(self, version: object) -> None:
        """format delta: the next records carry this full-table ``version`` (None: none); the
        records buffered before a change of version are written first."""
        if not self.keeps_versions:
            return
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise InputError(
                f"stream '{self.stream_name}', input line {self.ledger.input_line()}: a RECORD's"
                f" version must be an integer, got {type(version).__name__}"
            )
        if version != self.version:
            self.drain()
            self.version = version

    def activate_version(self, new_version: int) -> None:
        """format delta: the table becomes the rows of ``new_version`` (``delta_versions``)."""
        if self.settings.format != "delta":
            super().activate_version(new_version)
            return
        if isinstance(new_version, bool) or not isinstance(new_version, int):
            raise InputError(
                f"stream '{self.stream_name}', input line {self.ledger.input_line()}: an"
                f" ACTIVATE_VERSION's version must be an integer, got {type(new_version).__name__}"
            )
        self.drain()  # the records before it go where their version says, first
        self.version = None
        commit = self.ledger.lake.activate(self.stream_name, new_version)
        if commit is not None:
            self.output.record_commit(commit, "full refresh")
