"""One sink per stream and schema: buffer records as Arrow, write partitioned files per flush.

Records are validated as they arrive (compiled checks, so an error names the field and input line),
turned into Arrow chunks every few thousand rows (compact memory, exact byte accounting), and
written when the batch is full by rows, bytes or age. Each flush writes one file per partition.
"""

from __future__ import annotations

import decimal
import gzip
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from singer_sdk.exceptions import MissingKeyPropertiesError
from singer_sdk.sinks import BatchSink

from .arrow import InvalidRecord, StreamSchema, column_from_values
from .delta_plan import MergePlan, plan_for
from .errors import InputError
from .json_chunks import ChunkConverter, decode_json
from .layout import partition_values, render_key, safe_stream_name
from .schema_checks import SchemaProblem, check_dedup_key, partition_problem
from .writers import write_file

if TYPE_CHECKING:
    from .target import TargetEvents

CHUNK_ROWS = 5_000
# What Arrow raises for a value it cannot store (out of range, no such date).
CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError)


def _local_path(uri: str) -> str:
    parsed = urllib.parse.urlsplit(uri)
    if parsed.scheme in ("", "file"):
        return urllib.parse.unquote(parsed.path)
    raise InputError(f"BATCH file {uri!r}: only local (file://) batch storage is supported")


class MissingKey(InvalidRecord):
    """A record without one of its stream's key properties."""


class MissingKeyError(InputError, MissingKeyPropertiesError):
    """Stops the run; also the SDK's exception type, which callers and its test suite expect."""


@dataclass
class FileEntry:
    key: str
    uri: str
    stream: str
    rows: int
    bytes: int
    partition: str
    schema_fingerprint: str
    min_value: str | None = None
    max_value: str | None = None


@dataclass
class DeadLetters:
    rows: list[dict] = field(default_factory=list)


class EventsSink(BatchSink):
    """Buffers one stream's records and writes them as durable files."""

    def __init__(
        self, target: TargetEvents, stream_name: str, schema: dict, key_properties: Any
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.events_target = target
        self.settings = target.settings
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
            if problem and stream_name in (self.config.get("partition_by") or {}):
                raise SchemaProblem(problem)
            if problem:  # the default partitioning of a stream another tap shaped differently
                self.logger.warning(
                    "Stream %s: %s (a default); writing unpartitioned", stream_name, problem
                )
                self.partitioning = None
        self.dedup_key = self.settings.dedup_key.get(stream_name)
        if self.dedup_key:
            check_dedup_key(self.dedup_key, self.stream_schema.arrow)
        self.first_record_at: float | None = None

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
    def _validate_and_parse(self, record: dict, line: int | None = None) -> dict:
        """Compiled checks instead of generic JSON Schema validation; strings stay strings."""
        self._skip_current = False
        try:
            missing = [key for key in self.key_properties or () if key not in record]
            if missing:
                raise MissingKey(f"missing key property {', '.join(map(repr, missing))}")
            self.stream_schema.check(record)
        except InvalidRecord as error:
            self._reject(error, record, self.events_target.line_number if line is None else line)
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
        self.events_target.invalid_records += 1
        if mode == "dead_letter":
            self._dead.append(
                {"line": line, "stream": self.stream_name, "error": str(error), "record": record}
            )
        self.logger.warning("Skipped invalid record (%s): %s", mode, message)

    def _singer_validate_message(self, record: dict) -> None:
        """Key properties are checked in ``_validate_and_parse``, where on_invalid_record applies."""

    def process_record(self, record: dict, context: dict) -> None:
        if self._skip_current:
            return
        if self._raw:
            self._seal_raw()  # rows keep their input order (dedup keeps the last one)
        self._append_row(record, self.events_target.line_number)

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
            self._validate_and_parse(record, line)
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
        """Pipeline: seal buffered rows, dedup, split by partition, write and commit each file."""
        self.seal_pending()
        if self._chunks:
            table = pa.concat_tables(self._chunks)
            self._chunks, self._chunk_bytes, self._pending = [], 0, 0
            if self.dedup_key:
                table = self._dedup(table)
            self.events_target.quality.observe(
                self.stream_name, table, tuple(self.key_properties or ())
            )
            if self.settings.format == "delta":  # lake hook: one Delta commit per flush
                self._commit_delta(table)
            else:
                for partition, part in self._split(table):
                    self._write(part, partition)
        self._write_dead_letters()
        self.first_record_at = None
        self.events_target.flushed_since_state = True

    # -- BATCH messages --
    def process_batch_files(self, encoding: Any, files: Any) -> None:
        """Stream BATCH files into the buffer: Parquet by record batch, JSONL line by line.

        Never a whole file in memory: the buffer flushes whenever it is full, as for records.
        """
        if encoding.format not in ("parquet", "jsonl"):
            raise InputError(
                f"stream '{self.stream_name}': BATCH encoding {encoding.format!r} is not supported"
            )
        for uri in files:
            path = _local_path(uri)
            if encoding.format == "parquet":
                for table in self._parquet_tables(uri, path):
                    self._check_batch_keys(uri, table)
                    self._append_table(self._conform(table))
                continue
            for record in self._jsonl_records(uri, path, encoding.compression):
                self._validate_and_parse(record)
                self.process_record(record, {})
                if self.is_full:
                    self.events_target.drain_one(self)

    def _check_batch_keys(self, uri: str, table: pa.Table) -> None:
        """A Parquet column cannot tell a missing key from a null one: both are refused, as
        RECORD mode refuses a record without its key (the rows could never be told apart)."""
        for key in self.key_properties or ():
            if key not in table.column_names:
                raise InputError(
                    f"stream '{self.stream_name}': BATCH file {uri} has no column for key property '{key}'"
                )
            nulls = table[key].null_count
            if nulls:
                raise InputError(
                    f"stream '{self.stream_name}': BATCH file {uri}: key property '{key}' is null in {nulls} row(s)"
                )

    def _parquet_tables(self, uri: str, path: str) -> Iterator[pa.Table]:
        """A missing, unreadable or corrupt batch file is bad input, named in one line; the
        errors of writing what it held (a full disk) are not caught here."""
        rows_per_batch = min(CHUNK_ROWS * 10, self.settings.max_batch_rows)
        try:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=rows_per_batch):
                yield pa.Table.from_batches([batch])
        except (OSError, pa.ArrowInvalid) as error:
            raise self._unreadable(uri, error) from error

    def _jsonl_records(self, uri: str, path: str, compression: str | None) -> Iterator[dict]:
        opener = gzip.open if compression == "gzip" else open
        line_number = 1  # the line being read or parsed when an error comes
        try:
            with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
                for line in handle:
                    if line.strip():
                        record = json.loads(line, parse_float=decimal.Decimal)
                        if not isinstance(record, dict):
                            raise ValueError("a record must be a JSON object")
                        yield record
                    line_number += 1
        except ValueError as error:  # not JSON, not UTF-8
            raise self._unreadable(f"{uri} line {line_number}", error) from error
        except (OSError, EOFError) as error:  # missing, not gzip, cut short
            raise self._unreadable(uri, error) from error

    def _unreadable(self, where: str, error: Exception) -> InputError:
        return InputError(
            f"stream '{self.stream_name}': BATCH file {where} cannot be read: "
            f"{type(error).__name__}: {error}"
        )

    def _append_table(self, table: pa.Table) -> None:
        self._seal_chunk()
        self._chunks.append(table)
        self._chunk_bytes += table.nbytes
        self._pending += table.num_rows
        if self.is_full:
            self.events_target.drain_one(self)

    def _conform(self, table: pa.Table) -> pa.Table:
        """Columns of the stream's Arrow schema, cast from whatever the batch file holds."""
        columns = []
        for target in self.stream_schema.arrow:
            if target.name not in table.column_names:
                columns.append(pa.nulls(table.num_rows, type=target.type))
                continue
            column = table[target.name]
            if column.type != target.type:
                try:
                    column = self._cast_batch_column(column, target.type)
                except (ValueError, TypeError, pa.ArrowNotImplementedError) as error:
                    # ArrowInvalid and ArrowTypeError are ValueError and TypeError; the RECORD
                    # conversion of the fallback raises the plain ones.
                    raise InputError(
                        f"stream '{self.stream_name}': BATCH column '{target.name}' of type {column.type} cannot become {target.type}: {error}"
                    ) from error
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=self.stream_schema.arrow)

    @staticmethod
    def _cast_batch_column(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
        """Arrow's cast; where it cannot (an open object written as a struct by another tap's
        batcher must become JSON text), the column goes through the RECORD-mode conversion."""
        try:
            return column.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return pa.chunked_array(
                [column_from_values(chunk.to_pylist(), target) for chunk in column.chunks],
                type=target,
            )

    def _dedup(self, table: pa.Table) -> pa.Table:
        """Keep the last row per key within the batch (later rows are newer versions).

        A row with a null in any dedup field has no key: it is kept, never merged with another
        (group_by would put all nulls in one group and keep one of them).
        """
        keys = list(self.dedup_key or ())
        rows = pa.array(range(table.num_rows), type=pa.int64())
        keyless = pc.is_null(table[keys[0]])
        for name in keys[1:]:
            keyless = pc.or_(keyless, pc.is_null(table[name]))
        keyed = table.select(keys).append_column("__row", rows).filter(pc.invert(keyless))
        last = keyed.group_by(keys, use_threads=False).aggregate([("__row", "max")])
        kept = pa.concat_arrays(
            [last["__row_max"].combine_chunks(), rows.filter(keyless.combine_chunks())]
        )
        dropped = table.num_rows - len(kept)
        if not dropped:
            return table
        self.tally_duplicate_merged(dropped)
        return table.take(kept.take(pc.sort_indices(kept)))  # input order

    def _split(self, table: pa.Table) -> list[tuple[str, pa.Table]]:
        if not self.partitioning or table.num_rows == 0:
            return [("", table)]
        values = partition_values(table[self.partitioning.field], self.partitioning)
        order = pc.sort_indices(values)
        table, values = table.take(order), values.take(order)
        parts, offset = [], 0
        for entry in pc.value_counts(values).to_pylist():
            count = entry["counts"]
            parts.append((entry["values"], table.slice(offset, count)))
            offset += count
        return parts

    def _write(self, table: pa.Table, partition: str) -> None:
        target = self.events_target
        settings = self.settings
        seq = target.next_seq(self.stream_name)
        key = render_key(
            settings.key_template,
            stream=self.stream_name,
            partition=partition,
            run_id=target.run_id,
            seq=seq,
            ext=settings.extension,
        )
        keys = self.key_properties or ()
        uri, size = target.storage.put(
            key,
            lambda path: write_file(
                table,
                path,
                fmt=settings.format,
                compression=settings.compression,
                unique=keys[0] if len(keys) == 1 else None,
            ),
            f".{settings.extension}",
        )
        low = high = None
        if self.partitioning and table.num_rows:
            bounds = pc.min_max(table[self.partitioning.field]).as_py()
            low, high = (
                (str(bounds["min"]) if bounds["min"] is not None else None),
                (str(bounds["max"]) if bounds["max"] is not None else None),
            )
        target.files.append(
            FileEntry(
                key,
                uri,
                self.stream_name,
                table.num_rows,
                size,
                partition,
                self.stream_schema.fingerprint,
                low,
                high,
            )
        )
        self.logger.info(
            "Wrote %d rows of %s to %s (%d bytes)", table.num_rows, self.stream_name, uri, size
        )

    # -- format delta (target_events/delta.py) --
    @cached_property
    def merge_plan(self) -> MergePlan:
        bookmarks = self.events_target.bookmark_properties.get(self.stream_name)
        return plan_for(list(self.stream_schema.properties), self.key_properties, bookmarks)

    def _commit_delta(self, table: pa.Table) -> None:
        """Merge the batch into the stream's Delta table; durable when this returns."""
        target = self.events_target
        commit = target.lake.write(self.stream_name, table, self.merge_plan)
        key = f"{safe_stream_name(self.stream_name)}/_delta_log/{commit.version:020d}.json"
        target.files.append(
            FileEntry(
                key,
                commit.uri,
                self.stream_name,
                commit.rows,
                0,
                "",
                self.stream_schema.fingerprint,
            )
        )
        self.logger.info(
            "Committed %d rows of %s to %s (version %d, %s)",
            commit.rows,
            self.stream_name,
            commit.uri,
            commit.version,
            self.merge_plan.mode,
        )

    def activate_version(self, new_version: int) -> None:
        """format delta: this run's rows of the stream replace its table (a full refresh)."""
        if self.settings.format != "delta":
            super().activate_version(new_version)
            return
        self.events_target.lake.begin_full_refresh(self.stream_name)

    def _write_dead_letters(self) -> None:
        if not self._dead:
            return
        target = self.events_target
        key = f"_dead_letter/{safe_stream_name(self.stream_name)}/{safe_stream_name(self.stream_name)}-{target.run_id}-{target.next_seq('_dead_letter')}.jsonl"
        payload = "".join(json.dumps(row, default=str) + "\n" for row in self._dead)
        target.storage.put(key, lambda path: path.write_text(payload), ".jsonl")
        self.logger.warning(
            "Wrote %d invalid records of %s to the dead-letter file %s",
            len(self._dead),
            self.stream_name,
            key,
        )
        self._dead = []
