"""RECORD lines to Arrow a chunk at a time: the raw ``record`` objects parsed by Arrow's JSON reader.

The per-record path (a msgspec dict, the compiled check, column-by-column conversion) costs ~8 µs a
row. Arrow's reader parses a chunk at ~1 µs a row and, given the stream's types, refuses the whole
chunk on any value of the wrong JSON type (a number where a string belongs, 5.0 for an integer, a
key given twice). That refusal is the validation. On any doubt (a refused chunk, a null or missing
key, a date-time the check would not take, a number no double holds, invalid UTF-8) the chunk goes
through the per-record path instead, which decides and words every error with its field and input
line. So this path only ever accepts what the per-record path accepts, and lands the same values.
"""

from __future__ import annotations

import decimal
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.json as pa_json

from ..errors import InputError
from .checks import decimal_problem
from .chunk_plan import ChunkCast, Plan, plans_for, python_paths
from .decimal_guard import DecimalGuard
from .json_cells import DECLINE, JsonCells, cell

# JSON numbers with a fraction or exponent decode to Decimal: exact for decimal columns (the
# chunk path reads their text exactly too), rounded to the nearest double for float columns
# exactly as Arrow's reader rounds the same text.
_decoder = msgspec.json.Decoder(float_hook=decimal.Decimal)


class Envelope(msgspec.Struct):
    """What the reader needs of a line to route a RECORD; the record itself stays raw bytes."""

    type: Any = None
    stream: Any = None
    record: msgspec.Raw = msgspec.Raw(b"")
    version: Any = None  # a full-table version (format delta keeps versions apart)


envelope_decoder = msgspec.json.Decoder(Envelope)


def decode_json(data: bytes | msgspec.Raw, line: int) -> Any:
    """Decode one JSON value; anything that is not JSON is an InputError naming the line."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise InputError(f"input line {line}: not a valid JSON message ({error})") from error
    except RecursionError as error:  # found by the fuzz test: msgspec recurses per level
        raise InputError(
            f"input line {line}: JSON nested too deeply to be a Singer message"
        ) from error


class ChunkConverter:
    """Turns a chunk of raw JSON objects into the stream's table, or says it cannot (None)."""

    def __init__(
        self,
        arrow: pa.Schema,
        plans: list[tuple[str, Plan]],
        keys: Sequence[str],
        on_unknown: Callable[[list[str]], None] | None = None,
    ):
        self.arrow = arrow
        self.keys = frozenset(keys)
        # Record keys the schema does not declare are named to ``on_unknown``, then dropped. Where
        # every column is read by Arrow, its reader infers them ("ignore" would drop them unsaid);
        # where JSON text is taken from a msgspec pass, Arrow must not infer it (slow, brittle),
        # and that pass, which sees every key, names them instead.
        self.on_unknown = on_unknown or (lambda names: None)
        self._known = frozenset(arrow.names)
        self._cast = ChunkCast(arrow, plans, self.keys)
        self._json_paths = python_paths(plans)
        self._json_text = bool(self._json_paths)
        self._cells = JsonCells(arrow.names, self._json_paths) if self._json_text else None
        # The per-value pass, for a chunk the guard is unsure of (decimals checked one by one).
        self._careful_paths = python_paths(plans, numbers=True)
        self._guard = DecimalGuard.for_columns(
            (path[-1], plan.target) for path, plan in self._careful_paths if plan.kind == "number"
        )
        unexpected = "ignore" if self._json_text else "infer"
        read_as = pa.schema(list(self._cast.read_type))
        self._parse = pa_json.ParseOptions(
            explicit_schema=read_as, unexpected_field_behavior=unexpected
        )
        # Whole RECORD messages: the record object, plus type and stream so that a line giving
        # either twice is refused (msgspec would take the last one; the reader saw the first).
        self._parse_messages = pa_json.ParseOptions(
            explicit_schema=pa.schema(
                [("type", pa.string()), ("stream", pa.string()), ("record", pa.struct(read_as))]
            ),
            unexpected_field_behavior=unexpected,
        )

    @classmethod
    def for_schema(
        cls,
        properties: dict[str, dict],
        arrow: pa.Schema,
        keys: Sequence[str],
        on_unknown: Callable[[list[str]], None] | None = None,
    ) -> ChunkConverter | None:
        """Every shape the target stores: scalars, dates, decimals, structs, lists, and JSON
        text for open objects and mixed types. None only for what Arrow's reader cannot check
        exactly (JSON text inside a list)."""
        plans = plans_for(properties, arrow)
        return None if plans is None else cls(arrow, plans, keys, on_unknown)

    def _paths_for(self, data: bytes) -> list:
        """What the msgspec pass must look at in this chunk: the JSON-text values, and the
        decimals too when the guard cannot vouch for them in bulk."""
        return self._careful_paths if self._guard.unsure(data) else self._json_paths

    def convert(self, raws: Sequence[bytes]) -> pa.Table | None:
        """A chunk of raw ``record`` objects."""
        data = b"\n".join(raws)
        table = _read(data, self._parse)
        if table is None or table.num_rows != len(raws):
            return None
        paths = self._paths_for(data)
        json_values = self._quick(paths, lambda cells: cells.from_records(raws))
        if json_values is None:
            json_values = self._json_values(raws, paths)
        if json_values is None:
            return None
        return self._typed(table.to_struct_array().combine_chunks(), json_values)

    def convert_messages(self, lines: bytes, count: int) -> pa.Table | None:
        """``count`` whole RECORD lines of this stream (the reader checked their envelopes)."""
        table = _read(lines, self._parse_messages)
        if table is None or table.num_rows != count:
            return None
        column = table["record"]
        records = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        if records.null_count:
            return None  # a line without its record object: the per-line path names it
        paths = self._paths_for(lines)
        json_values = self._quick(paths, lambda cells: cells.from_messages(lines))
        if json_values is None:
            try:
                raws = [envelope_decoder.decode(line).record for line in lines.splitlines()]
            except msgspec.DecodeError:
                return None
            json_values = self._json_values(raws, paths)
        return None if json_values is None else self._typed(records, json_values)

    def _quick(
        self, paths: list, take: Callable[[JsonCells], dict | None]
    ) -> dict[tuple[str, ...], pa.Array] | None:
        """Nothing to take ({}), or the JSON text from ``JsonCells`` when nothing else is asked
        for; None: the value-by-value pass decides (decimals the guard is unsure of, or a chunk
        ``JsonCells`` declines)."""
        if not paths:
            return {}
        if paths is self._json_paths and self._cells is not None:
            return take(self._cells)
        return None

    def _typed(self, records: pa.StructArray, json_values: dict) -> pa.Table | None:
        """The chunk's records as read: keys the schema does not declare (which Arrow's reader
        inferred) are named and dropped, then everything is checked and cast in bulk."""
        if records.type.num_fields != self._cast.read_type.num_fields:  # explicit ones come first
            unknown = [field.name for field in records.type if field.name not in self._known]
            if unknown:
                self.on_unknown(unknown)
            fields = list(self._cast.read_type)
            records = pa.StructArray.from_arrays(
                [records.field(field.name) for field in fields], fields=fields
            )
        return self._cast.table(records, json_values)

    def _json_values(
        self, raws: Sequence[bytes], paths: list
    ) -> dict[tuple[str, ...], pa.Array] | None:
        """The JSON-text values of every record, as the per-record path stores them; decimals
        among ``paths`` are checked value by value."""
        columns: dict[tuple[str, ...], list] = {
            path: [] for path, plan in paths if plan.read is None
        }
        unknown: set[str] = set()
        for raw in raws:
            try:
                record = _decoder.decode(raw)
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
                return None
            if self._json_text and isinstance(record, dict) and not self._known.issuperset(record):
                unknown.update(name for name in record if name not in self._known)
            for path, plan in paths:
                value: Any = record
                for name in path:
                    value = value.get(name) if isinstance(value, dict) else None
                if plan.kind == "number":
                    if value is not None and (
                        type(value) not in (int, decimal.Decimal)
                        or (type(value) is decimal.Decimal and not math.isfinite(value))
                        # Arrow's reader rounds an exponent form (2.2e-311) to the scale where
                        # the check refuses it: the check's own rule decides, value by value.
                        or decimal_problem(value, plan.target.precision, plan.target.scale)
                    ):
                        return None  # a string of digits, say: the per-record check words it
                else:
                    stored = cell(value, plan)
                    if stored is DECLINE:
                        return None  # the per-record check words it
                    columns[path].append(stored)
        if unknown:
            self.on_unknown(sorted(unknown))
        return {path: pa.array(values, type=pa.string()) for path, values in columns.items()}


def _read(data: bytes, options: pa_json.ParseOptions) -> pa.Table | None:
    try:
        # Arrow's reader would take invalid UTF-8 into a string column. ASCII (most input) is
        # valid UTF-8, and telling so costs a tenth of decoding it.
        if not data.isascii():
            data.decode("utf-8")
        return pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=options,
        )
    except (UnicodeDecodeError, pa.ArrowInvalid, pa.ArrowNotImplementedError, IndexError):
        return None  # IndexError: Arrow's inference of undeclared keys can fail on odd shapes
