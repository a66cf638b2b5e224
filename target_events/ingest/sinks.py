"""One sink per stream and schema: take Arrow tables, hand full batches to the output.

Everything arrives as a table through the stream's ``intake`` (its one way in): raw RECORD
chunks, runs of RECORD lines, decoded records of the SDK's path, BATCH JSONL lines, and tables
already made (BATCH Parquet files, tombstones: ``accept``). Refused
records are judged before (``refusals.Judge``); their dead letters are written with the next
batch. A batch is flushed when full by rows or bytes (or by the target's age policy); ``outputs``
deduplicates, observes it for QA and makes it durable. The sink knows the run only through its ledger (``ledger.py``), never the target.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import pyarrow as pa

from ..errors import InputError
from ..lake.delta_plan import MergePlan, plan_for
from ..land.outputs import StreamOutput
from ..sdk_hooks import SinkHooks, TargetHooks
from .arrow import StreamSchema
from .batch_files import BatchFileReader
from .intake import CHUNK_ROWS, Intake
from .refusals import Judge
from .schema_checks import SchemaProblem, check_dedup_key, partition_problem


class EventsSink(SinkHooks):
    """Buffers one stream's tables and writes them as durable files."""

    def __init__(
        self, target: TargetHooks, stream_name: str, schema: dict, key_properties: Any
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.ledger = target.ledger
        self.settings = self.ledger.settings
        self.stream_schema = StreamSchema.from_json_schema(schema)
        keys = self.required_keys(key_properties)
        self.judge = Judge(stream_name, self.ledger, self.logger)
        self.intake = Intake(
            stream_name,
            self.stream_schema,
            keys,
            self.judge,
            self.logger,
            on_table=self._buffer,
            on_received=self.received,
        )
        self._tables: list[pa.Table] = []
        self._table_bytes = 0
        self._table_rows = 0
        self._skip_current = False
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
        dedup_key = self.settings.dedup_key.get(stream_name)
        if dedup_key:
            check_dedup_key(dedup_key, self.stream_schema.arrow)
        # format delta: the full-table version of the buffered records (RECORD ``version``); a
        # batch never mixes versions, since each version goes to a table of its own.
        self.version: int | None = None
        self.output = StreamOutput(
            self.ledger,
            stream_name,
            self.stream_schema,
            keys,
            self.partitioning,
            self.logger,
            dedup_key=dedup_key,
        )
        self.batch_files = BatchFileReader(
            stream_name,
            self.stream_schema,
            keys,
            min(CHUNK_ROWS * 10, self.settings.max_batch_rows),
            roots=self.settings.batch_roots,
            input_line=self.ledger.input_line,
        )

    def required_keys(self, key_properties: Any) -> tuple[str, ...]:
        """The properties every record must carry, non-null: the stream's key."""
        return tuple(key_properties or ())

    # -- sizing --
    @property
    def max_size(self) -> int:
        return self.settings.max_batch_rows

    @property
    def pending(self) -> int:
        """Rows waiting: in tables, and in the intake on their way to one."""
        return self._table_rows + self.intake.pending

    @property
    def current_size(self) -> int:
        """Rows and dead letters waiting: a sink holding only invalid records still gets drained."""
        return self.pending + len(self.judge.dead)

    @property
    def room(self) -> int:
        """Rows that still fit in the batch (at least one: a full batch is drained first)."""
        return max(1, self.settings.max_batch_rows - self.pending)

    @property
    def is_full(self) -> bool:
        return (
            self.pending >= self.settings.max_batch_rows
            or self._table_bytes >= self.settings.max_batch_bytes
        )

    # -- what comes in --
    def accept(self, table: pa.Table) -> None:
        """Rows in the stream's Arrow schema, already checked, after everything before them."""
        self.intake.add_table(table)

    def _buffer(self, table: pa.Table) -> None:
        """The intake's tables (``Intake.on_table``): the only way rows reach the batch."""
        self._tables.append(table)
        self._table_bytes += table.nbytes
        self._table_rows += table.num_rows

    def received(self, count: int) -> None:
        """Count records read, as the SDK counts the records of its own path."""
        self.tally_record_read(count)
        self.record_counter_metric.increment(count)

    def check_record(self, record: dict, line: int | None) -> dict:
        """Compiled checks instead of generic JSON Schema validation; strings stay strings.
        A refused record is judged now, and ``process_record`` then leaves it out."""
        line = self.ledger.input_line() if line is None else line
        self._skip_current = not self.intake.check(record, line)
        return record

    def process_record(self, record: dict, context: dict) -> None:
        """The SDK's per-record entry (and decoded lines): into the intake, unless refused."""
        if not self._skip_current:
            self.intake.add_record(record, self.ledger.input_line())

    def seal_pending(self) -> None:
        """Records held become tables now (before a STATE, a SCHEMA or a flush is handled)."""
        self.intake.seal()

    # -- flush --
    def process_batch(self, context: dict) -> None:
        """Seal the intake and hand the batch to the output, then the dead letters."""
        self.intake.seal()
        if self._tables:
            table = pa.concat_tables(self._tables)
            self._tables, self._table_bytes, self._table_rows = [], 0, 0
            merged = self.output.land(table, self.merge_plan, self.version)
            if merged:
                self.tally_duplicate_merged(merged)
        self.output.dead_letters(self.judge.take_dead())
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
        """Stream BATCH files in: Parquet as tables by record batch, JSONL line by line."""
        if encoding.format not in ("parquet", "jsonl"):
            raise InputError(
                f"stream '{self.stream_name}': BATCH encoding {encoding.format!r} is not supported"
            )
        for uri in files:
            if encoding.format == "parquet":
                for table in self.batch_files.parquet_tables(uri):
                    self.accept(table)
                    if self.is_full:
                        self.drain()
                continue
            for record in self.batch_files.jsonl_records(uri, encoding.compression):
                self.check_record(record, None)
                self.process_record(record, {})
                if self.is_full:
                    self.drain()

    # -- format delta (target_events/lake/delta.py) --
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
