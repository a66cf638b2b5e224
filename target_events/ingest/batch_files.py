"""BATCH messages' files read a bounded piece at a time: Parquet by record batch, JSONL by line.

Only files under the allowed roots are opened (``batch_roots.py`` says which and why); a line
longer than ``MAX_LINE_BYTES`` or a file of more than ``MAX_FILE_BYTES`` decompressed is refused
as it is reached, so no file holds the target's memory or runs it forever. A refused, missing,
unreadable or corrupt file is bad input named in one line (stream, input line, file) worded from
fixed text: a BATCH file may hold anything (a secrets file named by a hostile message), and an
error quoting its first bytes, as gzip's does, would print them. The errors of writing what it
held (a full disk) are not caught here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from ..config.batch_roots import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    SETTING,
    BatchFileProblem,
    open_batch_file,
)
from ..config.config_checks import show
from ..errors import InputError
from .arrow import StreamSchema, column_from_values

_CONTROL = str.maketrans({chr(c): "?" for c in [*range(32), 127]})


class BatchFileReader:
    """One stream's view of its BATCH files: tables in the stream's Arrow schema, or records.

    ``roots`` are the allowed roots (``Settings.batch_roots``); ``input_line`` is the reader's
    count, so an error names the BATCH message's line as every other input error does.
    """

    def __init__(
        self,
        stream: str,
        schema: StreamSchema | None,
        keys: Sequence[str],
        rows: int,
        *,
        roots: Sequence[str],
        input_line: Callable[[], int] = lambda: 0,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        self.stream = stream
        self.schema = schema
        self.keys = tuple(keys)
        self.rows_per_batch = rows
        self.roots = tuple(roots)
        self.input_line = input_line
        self.max_line_bytes = max_line_bytes
        self.max_file_bytes = max_file_bytes

    def parquet_tables(self, uri: str) -> Iterator[pa.Table]:
        """The file's rows, conformed to the stream's schema, ``rows_per_batch`` at a time."""
        assert self.schema is not None, "tables need the stream's schema"
        schema = self.schema.arrow
        for batch in self._parquet_batches(uri):
            table = pa.Table.from_batches([batch])
            self._check_keys(uri, table)
            yield self._conform(table, schema)

    def records(self, uri: str, encoding_format: str, compression: str | None) -> Iterator[dict]:
        """The file's records as a RECORD message holds them (datetimes and dates as ISO text),
        for a stream whose maps must see each record: as read, not conformed to its schema."""
        if encoding_format == "jsonl":
            yield from self.jsonl_records(uri, compression)
            return
        for batch in self._parquet_batches(uri):
            for record in batch.to_pylist():
                yield {name: _json_value(value) for name, value in record.items()}

    def jsonl_records(self, uri: str, compression: str | None) -> Iterator[dict]:
        """The file's records, numbers exact (Decimal) as the RECORD path reads them.

        Read as bytes, a line at a time with ``readline(limit)``: iterating a text file would
        hold a line without end (``/dev/zero``, a gzip bomb) whole before its first check."""
        if compression not in (None, "none", "gzip"):
            raise self._error(
                uri, f"cannot be read: compression {show(compression)} is not supported"
            )
        line_number = 0
        with self._open(uri) as raw:
            stream: BinaryIO | gzip.GzipFile = (
                gzip.GzipFile(fileobj=raw, mode="rb") if compression == "gzip" else raw
            )
            total = 0
            while True:
                line_number += 1
                try:
                    line = stream.readline(self.max_line_bytes + 1)
                except (OSError, EOFError, zlib.error) as error:
                    raise self._error(uri, _gzip_problem(error)) from None
                if not line:
                    return
                total += len(line)
                if total > self.max_file_bytes:
                    raise self._too_big(uri)
                if len(line.removesuffix(b"\n")) > self.max_line_bytes:
                    raise self._error(
                        f"{uri} line {line_number}",
                        f"cannot be read: longer than {self.max_line_bytes} bytes",
                    )
                if line.strip():
                    yield self._record(uri, line_number, line)

    def _record(self, uri: str, line_number: int, line: bytes) -> dict:
        """One JSONL line as a record; the error names the line and position, never its text."""
        where = f"{uri} line {line_number}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self._error(
                where, f"cannot be read: not UTF-8 (byte {error.start + 1})"
            ) from None
        try:
            record = json.loads(text, parse_float=decimal.Decimal)
        except json.JSONDecodeError as error:
            # ``msg`` is the json module's fixed wording ("Expecting value"), without the text.
            raise self._error(
                where,
                f"cannot be read: not a JSON object ({error.msg} at character {error.pos + 1})",
            ) from None
        except RecursionError:
            raise self._error(
                where, "cannot be read: not a JSON object (nested too deeply)"
            ) from None
        if not isinstance(record, dict):
            raise self._error(where, "cannot be read: not a JSON object")
        return record

    def _parquet_batches(self, uri: str) -> Iterator[pa.RecordBatch]:
        """The file's record batches, within the per-file cap: the sizes the footer declares are
        checked before any page is read, and the bytes decoded as they come (a footer may lie)."""
        with self._open(uri) as raw:
            try:
                file = pq.ParquetFile(raw)
                metadata = file.metadata
                declared = sum(
                    metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)
                )
                if declared > self.max_file_bytes:
                    raise self._too_big(uri)
                decoded = 0
                for batch in file.iter_batches(batch_size=self.rows_per_batch):
                    decoded += batch.nbytes
                    if decoded > self.max_file_bytes:
                        raise self._too_big(uri)
                    yield batch
            except (OSError, pa.ArrowException) as error:
                # Arrow's message is not shown: it may quote a value of the file.
                raise self._error(
                    uri, f"cannot be read: not a readable Parquet file ({type(error).__name__})"
                ) from None

    def _open(self, uri: object) -> BinaryIO:
        if not isinstance(uri, str):
            raise InputError(
                f"{self._where()}: a BATCH manifest entry must be a file URI string, not"
                f" {type(uri).__name__}"
            )
        try:
            return open_batch_file(uri, self.roots)
        except BatchFileProblem as problem:
            raise self._error(uri, problem.problem, setting=problem.setting) from None

    def _where(self) -> str:
        return f"stream '{self.stream}', input line {self.input_line()}"

    def _error(self, where: str, problem: str, *, setting: bool = False) -> InputError:
        """One line: stream, input line, the file as the message named it (control characters
        replaced, cut to 300 characters), the problem, and the setting when it decides."""
        shown = where.translate(_CONTROL)
        shown = shown if len(shown) <= 300 else f"{shown[:297]}..."
        suffix = f" (setting '{SETTING}')" if setting else ""
        return InputError(f"{self._where()}: BATCH file {shown} {problem}{suffix}")

    def _too_big(self, uri: str) -> InputError:
        return self._error(
            uri, f"cannot be read: more than {self.max_file_bytes} bytes decompressed"
        )

    def _check_keys(self, uri: str, table: pa.Table) -> None:
        """A Parquet column cannot tell a missing key from a null one: both are refused, as
        RECORD mode refuses a record without its key (the rows could never be told apart)."""
        for key in self.keys:
            if key not in table.column_names:
                raise InputError(
                    f"{self._where()}: BATCH file {uri} has no column for key property '{key}'"
                )
            nulls = table[key].null_count
            if nulls:
                raise InputError(
                    f"{self._where()}: BATCH file {uri}: key property '{key}' is null in {nulls} row(s)"
                )

    def _conform(self, table: pa.Table, schema: pa.Schema) -> pa.Table:
        """Columns of the stream's Arrow schema, cast from whatever the batch file holds.

        A failed cast is named by column and types; Arrow's message is not shown, as it quotes
        the value that did not convert (a BATCH file may hold anything)."""
        columns = []
        for target in schema:
            if target.name not in table.column_names:
                columns.append(pa.nulls(table.num_rows, type=target.type))
                continue
            column = table[target.name]
            if column.type != target.type:
                try:
                    column = _cast(column, target.type)
                except (ValueError, TypeError, pa.ArrowNotImplementedError) as error:
                    # ArrowInvalid and ArrowTypeError are ValueError and TypeError; the RECORD
                    # conversion of the fallback raises the plain ones.
                    raise InputError(
                        f"{self._where()}: BATCH column '{target.name}' of type {column.type} cannot become {target.type}: a value does not convert ({type(error).__name__})"
                    ) from None
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=schema)


def _gzip_problem(error: BaseException) -> str:
    """A gzip or read failure in fixed words: gzip's own message quotes the file's first bytes
    ("Not a gzipped file (b'{\"pa')") and zlib's its state, so neither is shown."""
    if isinstance(error, gzip.BadGzipFile):
        if str(error).startswith("Not a gzipped file"):
            return "cannot be read: not a gzip file"
        return "cannot be read: corrupt gzip data (its check or length does not match)"
    if isinstance(error, EOFError):
        return "cannot be read: gzip data cut short"
    if isinstance(error, zlib.error):
        return "cannot be read: corrupt gzip data"
    assert isinstance(error, OSError)
    return f"cannot be read: {error.strerror or type(error).__name__}"


def _cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Arrow's cast; where it cannot (an open object written as a struct by another tap's
    batcher must become JSON text), the column goes through the RECORD-mode conversion."""
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.chunked_array(
            [column_from_values(chunk.to_pylist(), target) for chunk in column.chunks],
            type=target,
        )


def _json_value(value: Any) -> Any:
    """A Parquet value as JSON would carry it in a RECORD (what stream maps and validation see)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value
