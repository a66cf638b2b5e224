"""Records become Arrow tables here, before the sink: the one way into a sink, which only ever
takes whole tables (``on_table``).

Runs of RECORD lines are converted in one go (``add_run``); tables already converted (BATCH
Parquet files, tombstones) pass through in input order (``add_table``); two kinds of record wait
here, CHUNK_ROWS at a time and in input order: raw ``record`` objects (the reader's fast path) and
decoded records already checked one by one (stream maps, lines the reader decoded, BATCH JSONL
lines). A raw chunk is parsed and checked by Arrow in one go (``json_chunks.ChunkConverter``:
types, dates, decimals, 64-bit integers and keys, in bulk). When Arrow declines a chunk, it is
halved and each half tried again, so the records looked at one by one are only those near a
declined one; those take the per-record check, which words each refusal with its field and input
line. Refusals are handed to the ``Judge`` together, after the records before them have become a
table (with ``fail``, nothing after the first refusal lands).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import pyarrow as pa

from ..errors import InputError
from .arrow import InvalidRecord, StreamSchema
from .json_chunks import ChunkConverter, decode_json
from .refusals import Judge, Refusal, record_problem

CHUNK_ROWS = 5_000
# A declined piece this small goes record by record: halving it again costs more than it saves.
SMALLEST_PIECE = 64
# After a chunk whose halves were both declined (odd records everywhere, e.g. date-times without a
# zone), this many declined chunks go record by record without halving: halving would only add
# two parses to each; the next one after them is halved again, in case the stream changed.
DENSE_CHUNKS = 8
# What Arrow raises for a value it cannot store (out of range, no such date).
CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError)


class Intake:
    """One sink's records on their way to tables; ``on_table`` hands each table to the sink and
    ``on_received`` counts raw records as they are converted (decoded ones are counted by whoever
    decoded them, as the SDK counts its own)."""

    def __init__(
        self,
        stream_name: str,
        schema: StreamSchema,
        keys: Sequence[str],
        judge: Judge,
        logger: logging.Logger,
        *,
        on_table: Callable[[pa.Table], None],
        on_received: Callable[[int], None],
    ) -> None:
        self.stream_name = stream_name
        self.schema = schema
        self.keys = tuple(keys)
        self.judge = judge
        self.logger = logger
        self._on_table = on_table
        self._on_received = on_received
        self._known = frozenset(schema.properties)
        self._named_unknown: set[str] = set()
        # None when some column has a shape only the per-record path converts.
        self.converter = ChunkConverter.for_schema(
            schema.properties, schema.arrow, self.keys, self.name_unknown_fields
        )
        self._raw: list = []
        self._raw_lines: list[int] = []
        self._rows: list[dict] = []
        self._row_lines: list[int] = []
        self._dense_left = 0

    @property
    def pending(self) -> int:
        """Records held here, not yet a table."""
        return len(self._raw) + len(self._rows)

    # -- what comes in --
    def check(self, record: dict, line: int) -> bool:
        """The per-record check of one decoded record as it arrives; a refusal is judged now."""
        problem = record_problem(record, self.keys, self.schema.check)
        if problem is not None:
            self.judge.refuse([Refusal(problem, record, line)])
        self._name_unknown_of(record)
        return problem is None

    def add_record(self, record: dict, line: int) -> None:
        """A decoded record that passed ``check``."""
        if self._raw:
            self._seal_raw()  # rows keep their input order (dedup keeps the last one)
        self._rows.append(record)
        self._row_lines.append(line)
        if len(self._rows) >= CHUNK_ROWS:
            self._seal_rows()

    def add_raw(self, raw: bytes, line: int) -> None:
        """One RECORD's raw ``record`` object (only when there is a ``converter``)."""
        if self._rows:
            self._seal_rows()  # rows keep their input order (dedup keeps the last one)
        self._raw.append(raw)
        self._raw_lines.append(line)
        if len(self._raw) >= CHUNK_ROWS:
            self._seal_raw()

    def add_run(self, lines: bytes, count: int) -> bool:
        """``count`` whole RECORD lines in one go; False (nothing taken) when Arrow declines
        them: the reader then goes line by line, which words any error with its line number."""
        assert self.converter is not None  # runs are only routed to streams with one
        table = self.converter.convert_messages(lines, count)
        if table is None:
            return False
        self.add_table(table)
        self._on_received(count)
        return True

    def add_table(self, table: pa.Table) -> None:
        """Rows already in the stream's Arrow schema and checked (a BATCH Parquet file's, a
        run's, tombstones), after everything held before them."""
        self.seal()  # rows keep their input order (dedup keeps the last one)
        self._on_table(table)

    def seal(self) -> None:
        """Everything held becomes tables now (before a STATE, a SCHEMA, a table or a flush)."""
        self._seal_raw()
        self._seal_rows()

    def name_unknown_fields(self, names: list[str]) -> None:
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

    def _name_unknown_of(self, record: dict) -> None:
        if not self._known.issuperset(record):
            self.name_unknown_fields([name for name in record if name not in self._known])

    # -- raw chunks --
    def _seal_raw(self) -> None:
        if not self._raw:
            return
        raws, lines = self._raw, self._raw_lines
        self._raw, self._raw_lines = [], []
        self._on_received(len(raws))
        self._convert_raw(raws, lines)

    def _convert_raw(self, raws: list, lines: list[int], *, declined: bool = False) -> None:
        """In one go; a declined piece is halved, and where both halves are declined too (the
        odd records are everywhere) the piece goes record by record."""
        assert self.converter is not None
        table = None if declined else self.converter.convert(raws)
        if table is not None:
            self._on_table(table)
            return
        whole_chunk = not declined
        if whole_chunk and self._dense_left:
            self._dense_left -= 1
            self._decode_each(raws, lines)
            return
        if len(raws) <= SMALLEST_PIECE:
            self._decode_each(raws, lines)
            return
        half = len(raws) // 2
        left = self.converter.convert(raws[:half])
        right = self.converter.convert(raws[half:])
        if left is None and right is None:
            if whole_chunk:
                self._dense_left = DENSE_CHUNKS
            self._decode_each(raws, lines)
            return
        for converted, part, part_lines in (
            (left, raws[:half], lines[:half]),
            (right, raws[half:], lines[half:]),
        ):
            if converted is not None:
                self._on_table(converted)
            else:
                self._convert_raw(part, part_lines, declined=True)

    def _decode_each(self, raws: list, lines: list[int]) -> None:
        """The per-record path: decode, check, convert what passed, then judge the refusals.
        A record that is not JSON, or not an object, stops the run whatever the policy; the
        records before it still land (the reader's error path writes them)."""
        rows: list[dict] = []
        row_lines: list[int] = []
        refusals: list[Refusal] = []
        stop: InputError | None = None
        failing = self.judge.mode == "fail"
        for raw, line in zip(raws, lines, strict=True):
            try:
                record = self._decode(raw, line)
            except InputError as error:
                stop = error
                break
            problem = record_problem(record, self.keys, self.schema.check)
            if problem is not None:
                refusals.append(Refusal(problem, record, line))
                if failing:
                    break
            else:
                rows.append(record)
                row_lines.append(line)
            self._name_unknown_of(record)
        self._convert_rows(rows, row_lines)
        self.judge.refuse(refusals)
        if stop is not None:
            raise stop

    def _decode(self, raw: bytes, line: int) -> dict:
        record = decode_json(raw, line)
        if not isinstance(record, dict):
            raise InputError(
                f"stream '{self.stream_name}', input line {line}: a RECORD's record must be a"
                f" JSON object, got {type(record).__name__}"
            )
        return record

    # -- decoded rows --
    def _seal_rows(self) -> None:
        if not self._rows:
            return
        rows, lines = self._rows, self._row_lines
        self._rows, self._row_lines = [], []
        self._convert_rows(rows, lines)

    def _convert_rows(self, rows: list[dict], lines: list[int]) -> None:
        """Checked records to one table; a value the checks passed but Arrow cannot store is a
        refusal like any other, named with its input line (a net under the checks)."""
        if not rows:
            return
        try:
            table = self.schema.to_table(rows)
        except CONVERSION_ERRORS:
            table = None
        if table is not None:
            self._on_table(table)
            return
        tables: list[pa.Table] = []
        refusals: list[Refusal] = []
        for row, line in zip(rows, lines, strict=True):
            try:
                tables.append(self.schema.to_table([row]))
            except CONVERSION_ERRORS as error:
                problem = InvalidRecord(
                    f"a value cannot be stored: {type(error).__name__}: {error}"
                )
                refusals.append(Refusal(problem, row, line))
                if self.judge.mode == "fail":
                    break  # after the bad line: never written
        if tables or self.judge.mode != "fail":
            self._on_table(pa.concat_tables(tables) if tables else self.schema.arrow.empty_table())
        self.judge.refuse(refusals)
