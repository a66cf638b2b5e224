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

import io
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .arrow import DATE_PATTERN, DATETIME_PATTERN, TIMESTAMP, non_null_kinds
from .errors import InputError

_decoder = msgspec.json.Decoder()


class Envelope(msgspec.Struct):
    """What the reader needs of a line to route a RECORD; the record itself stays raw bytes."""

    type: Any = None
    stream: Any = None
    record: msgspec.Raw = msgspec.Raw(b"")


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


_SCALARS = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


class ChunkConverter:
    """Turns a chunk of raw JSON objects into the stream's table, or says it cannot (None)."""

    def __init__(
        self,
        arrow: pa.Schema,
        read_as: pa.Schema,
        keys: Sequence[str],
        on_unknown: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.arrow = arrow
        self.keys = frozenset(keys)
        # Record keys the schema does not declare are read ("infer") only to be named to
        # ``on_unknown``, then dropped: a reader told to ignore them would drop them unsaid.
        self.on_unknown = on_unknown or (lambda names: None)
        self._parse = pa_json.ParseOptions(
            explicit_schema=read_as, unexpected_field_behavior="infer"
        )
        # Whole RECORD messages: the record object, plus type and stream so that a line giving
        # either twice is refused (msgspec would take the last one; the reader saw the first).
        self._parse_messages = pa_json.ParseOptions(
            explicit_schema=pa.schema(
                [("type", pa.string()), ("stream", pa.string()), ("record", pa.struct(read_as))]
            ),
            unexpected_field_behavior="infer",
        )

    @classmethod
    def for_schema(
        cls,
        properties: dict[str, dict],
        arrow: pa.Schema,
        keys: Sequence[str],
        on_unknown: Callable[[list[str]], None] | None = None,
    ) -> ChunkConverter | None:
        """Flat streams of scalar columns only; structs, lists, decimals and open or mixed-type
        values (stored as JSON text) keep the per-record path."""
        read_as = []
        for field in arrow:
            kinds = non_null_kinds(properties[field.name])
            expected = _SCALARS.get(kinds[0]) if len(kinds) == 1 else None
            if expected is None:
                return None
            if field.type in (TIMESTAMP, pa.date32()):
                read_as.append(pa.field(field.name, pa.string()))
            elif field.type == expected:
                read_as.append(field)
            else:
                return None
        return cls(arrow, pa.schema(read_as), keys, on_unknown)

    def convert(self, raws: Sequence[bytes]) -> pa.Table | None:
        """A chunk of raw ``record`` objects."""
        table = _read(b"\n".join(raws), self._parse)
        return None if table is None else self._typed(table, len(raws))

    def convert_messages(self, lines: bytes, count: int) -> pa.Table | None:
        """``count`` whole RECORD lines of this stream (the reader checked their envelopes)."""
        table = _read(lines, self._parse_messages)
        if table is None:
            return None
        records = table["record"].combine_chunks()
        if records.null_count:
            return None  # a line without its record object: the per-line path names it
        names = [field.name for field in records.type]
        return self._typed(pa.Table.from_arrays(records.flatten(), names=names), count)

    def _typed(self, table: pa.Table, count: int) -> pa.Table | None:
        if table.num_rows != count:
            return None
        if table.num_columns > len(self.arrow):
            self.on_unknown([name for name in table.column_names if name not in self.arrow.names])
        columns = []
        for field in self.arrow:
            column = table[field.name]
            if field.name in self.keys and column.null_count:
                return None  # missing and null keys differ: the per-record path tells them apart
            if field.type in (TIMESTAMP, pa.date32()):
                # The per-record check's own pattern, run by RE2: its \d and $ are stricter than
                # Python's (ASCII digits, no trailing newline), so what passes here passes there.
                pattern = DATETIME_PATTERN if field.type == TIMESTAMP else DATE_PATTERN
                if pc.all(pc.match_substring_regex(column, pattern)).as_py() is False:
                    return None
                try:
                    column = column.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
                    return None  # e.g. no zone: the per-record path reads it as UTC
            elif field.type == pa.float64() and pc.any(pc.invert(pc.is_finite(column))).as_py():
                return None  # a 400-digit integer reads as infinity; the check refuses it
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=self.arrow)


def _read(data: bytes, options: pa_json.ParseOptions) -> pa.Table | None:
    try:
        data.decode("utf-8")  # Arrow's reader would take invalid UTF-8 into a string column
        return pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=options,
        )
    except (UnicodeDecodeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
