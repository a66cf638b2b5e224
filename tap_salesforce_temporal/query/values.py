"""Typing of Salesforce values into one canonical record shape, whichever API delivered them.

REST gives JSON (datetimes as ``...000+0000``, anyType history values as numbers or booleans);
Bulk 2.0 gives CSV text (datetimes as ``...000Z``, ``true``/``false``, empty for null). Both become:
datetimes ``YYYY-MM-DDTHH:MM:SS.fffZ`` (sortable as strings, so bookmarks compare correctly),
dates ``YYYY-MM-DD``, booleans, ints, floats, exact Decimals for currency and percent, strings (anyType included), and compound fields as
objects built from their components.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import typing as t
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from ..discovery.schema import ObjectSchema
from ..errors import BrokenPaging

Compound = tuple[str, list[tuple[str, str]]]  # (field, [(JSON key, component column)])

# Records built from an Arrow page at once (``from_table``).
RECORDS_PER_SLICE = 2000


def arrow_owned(payload: bytes) -> pa.Buffer:
    """``payload`` copied into Arrow's own memory, for Arrow's threaded readers.

    ``read_csv`` parses on Arrow's CPU pool, and the pool thread that finishes the parse drops
    the reader's input, sometimes just after ``read_csv`` has returned. An input that is a Python
    object (``io.BytesIO``, or a buffer over ``bytes``) needs the GIL to be dropped; when the run
    ends right after a page (the quota guard's stop) the interpreter may already be finalizing,
    and Python then ends that C++ thread mid-destructor: ``terminate called without an active
    exception``, exit -6 instead of the run's code (seen ~1 run in 100 on a busy 2-core machine).
    Arrow memory is freed without Python. The copy costs what ``io.BytesIO`` already cost (Arrow
    copied each ``read()`` out of it).
    """
    sink = pa.BufferOutputStream()
    sink.write(payload)
    return sink.getvalue()


def canonical_datetime(value: str | None) -> str | None:
    """``2024-01-15T10:30:00.000+0000`` (REST) or ``...Z`` (Bulk) -> ``2024-01-15T10:30:00.000Z``."""
    if value is None:
        return None
    if value.endswith("Z") and len(value) == 24:
        return value
    if value.endswith("+0000") and len(value) == 28:
        return value[:-5] + "Z"
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return format_datetime(parsed)


def format_datetime(value: dt.datetime) -> str:
    value = value.astimezone(dt.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _exact_decimal(value: t.Any, quantum: decimal.Decimal) -> decimal.Decimal:
    """A REST number as a Decimal at the field's scale, as a Bulk page types it.

    A real org writes currency and percent values as Java prints a double (``8400.0``, ``1.5E7``),
    not at the field's scale (``8400.00``): without this the same record would differ by API
    (decision events' metadata text did). A value the scale cannot hold exactly is kept as sent,
    never rounded.
    """
    number = value if type(value) is decimal.Decimal else decimal.Decimal(value)
    try:
        return number.quantize(quantum, context=_EXACT)
    except decimal.DecimalException:  # Inexact (a digit past the scale), or too many digits
        return number


# Quantizing must neither round nor lose digits: both raise instead.
_EXACT = decimal.Context(prec=38, traps=[decimal.Inexact, decimal.InvalidOperation])


def _any_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RecordShaper:
    """Turns REST records or Bulk CSV pages of one object into canonical records."""

    def __init__(self, schema: ObjectSchema, fields: list[str]) -> None:
        self.object_name = schema.name
        self.fields = fields
        info = {f.name: f for f in schema.fields}
        # Relationship paths (ProcessInstance.TargetObjectId) are read as strings: they name ids.
        self._paths = [f for f in fields if "." in f]
        kinds = {f: info[f].kind if f in info else "string" for f in fields}
        self._datetimes = [f for f in fields if kinds[f] == "datetime"]
        self._any = [f for f in fields if f in info and info[f].sf_type == "anyType"]
        self._ints = [f for f in fields if kinds[f] == "integer"]
        self._floats = [f for f in fields if kinds[f] == "number"]
        self._decimals = {
            f: pa.decimal128(info[f].precision, info[f].scale)
            for f in fields
            if kinds[f] == "decimal"
        }
        self._kinds = kinds
        # Per REST field, the conversions of a non-null value, in this order. Every
        # conversion keeps null as null.
        steps: list[tuple[str, Callable[[t.Any], t.Any]]] = [
            *((f, canonical_datetime) for f in self._datetimes),
            *((f, _any_text) for f in self._any),
            *((f, int) for f in self._ints),
            *((f, float) for f in self._floats),
            *(
                (f, functools.partial(_exact_decimal, quantum=decimal.Decimal(1).scaleb(-k.scale)))
                for f, k in self._decimals.items()
            ),
        ]
        self._conversions: dict[str, list[Callable[[t.Any], t.Any]]] = {}
        for name, convert in steps:
            self._conversions.setdefault(name, []).append(convert)
        self.compounds: list[Compound] = [
            (field.name, parts)
            for field, parts in schema.compound_fields()
            if parts and all(c in fields for _, c in parts)
        ]

    # -- REST --
    def from_rest(self, records: list[dict]) -> Iterator[dict]:
        """REST records in record form (FieldHistoryArchive's own pages): the page's table
        (``rest_table``) as records."""
        return self.from_table(self.rest_table(records))

    def rest_table(self, records: list[dict]) -> pa.Table:
        """A REST page as the table a Bulk page is (``csv_table``): the same columns and types.

        Built a column at a time (a list per field, then one Arrow array): the page's values
        never become a dict per row. A value its field's type cannot hold (a hostile answer:
        text in a number field) ends the read in one line naming the field.
        """
        schema = self.record_schema()
        columns = []
        for field in schema:
            try:
                columns.append(self._rest_array(field, records))
            # Arrow's refusals, and int("many"), Decimal("x"), a number where text should be
            except (ValueError, TypeError, ArithmeticError, AttributeError):
                raise BrokenPaging(
                    f"{self.object_name}: Salesforce answered a query page whose "
                    f"{field.name} holds a value that is not {field.type}; stopped"
                ) from None
        return pa.Table.from_arrays(columns, schema=schema)

    def _rest_array(self, field: pa.Field, records: list[dict]) -> pa.Array:
        """One field's column of a REST page. Datetimes and exact decimals have a fast path in
        Arrow for the form REST sends them in; any other value takes the Python one."""
        name = field.name
        values = self._rest_values(name, records)
        conversions = self._conversions.get(name, [])
        if conversions == [canonical_datetime]:
            texts = pa.array(values, pa.string())
            # REST's form, ``...000+0000``, 28 characters: the canonical ``...000Z`` is its
            # first 23 and a Z (a text that is no datetime, or another offset: Python's way).
            if pc.all(pc.ends_with(texts, "+0000")).as_py() is not False and (
                pc.all(pc.equal(pc.utf8_length(texts), 28)).as_py() is not False
            ):
                head = pc.utf8_slice_codeunits(texts, 0, 23)
                return pc.binary_join_element_wise(head, pa.scalar("Z"), "")
        elif name in self._decimals and len(conversions) == 1:
            try:  # Arrow rescales a JSON number to the field's scale only when exact
                return pa.array(values, field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                pass  # ``_exact_decimal`` decides, as for any value
        for convert in conversions:
            if convert is canonical_datetime:
                values = [
                    v[:-5] + "Z"  # REST's form, the common case, inline
                    if type(v) is str and len(v) == 28 and v[-5:] == "+0000"
                    else (None if v is None else convert(v))
                    for v in values
                ]
            else:
                values = [None if v is None else convert(v) for v in values]
        return pa.array(values, field.type)

    def _rest_values(self, name: str, records: list[dict]) -> list:
        """One field's values in a page of REST records, as sent."""
        if (
            name in self._paths
        ):  # a relationship's field: {"ProcessInstance": {"TargetObjectId": ...}}
            parent, _, child = name.partition(".")
            return [
                nested.get(child) if isinstance(nested := raw.get(parent), dict) else None
                for raw in records
            ]
        return [raw.get(name) for raw in records]

    # -- Bulk CSV --
    def csv_table(self, payload: bytes) -> pa.Table:
        """Parse one Bulk result page: unquoted empty -> null, quoted empty -> empty string.

        Quoted values may hold line breaks (an address's street, a description): Arrow is told
        so, or a page larger than one block (4 MiB) is cut into blocks at a line break inside a
        value and fails to parse ("CSV parser got out of sync with chunker").
        """
        convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self.fields},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        )
        read = pa_csv.ReadOptions(block_size=1 << 22)
        page = pa.BufferReader(arrow_owned(payload))
        parse = pa_csv.ParseOptions(newlines_in_values=True)
        table = pa_csv.read_csv(
            page, read_options=read, parse_options=parse, convert_options=convert
        )
        return self.type_table(table)

    def type_table(self, table: pa.Table) -> pa.Table:
        """Cast CSV text columns to the describe's types (never by guessing: "false" stays False)."""
        columns = []
        for name in self.fields:
            column = table[name]
            kind = self._kinds[name]
            if kind == "boolean":
                column = pc.equal(column, "true")
            elif kind == "integer":
                column = column.cast(pa.int64())
            elif kind == "number":
                column = column.cast(pa.float64())
            elif kind == "decimal":
                column = column.cast(self._decimals[name])  # from the CSV text: exact
            columns.append(column)
        return pa.table(columns, names=self.fields)

    # -- Arrow (BATCH mode) --
    # A page before ``to_arrow``: what ``type_table`` makes of a Bulk CSV page.
    CSV_TYPES = {"boolean": pa.bool_(), "integer": pa.int64(), "number": pa.float64()}
    ARROW_TYPES = {
        "boolean": pa.bool_(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "datetime": pa.timestamp("ms", tz="UTC"),
        "date": pa.date32(),
    }

    def record_schema(self) -> pa.Schema:
        """The columns of a page in record form (``csv_table``): booleans, integers, floats and
        exact decimals typed; datetimes and dates as their canonical text; no compounds."""
        return pa.schema(
            [
                pa.field(
                    name,
                    self._decimals.get(name) or self.CSV_TYPES.get(self._kinds[name], pa.string()),
                )
                for name in self.fields
            ]
        )

    def arrow_schema(self) -> pa.Schema:
        """The typed shape of a batch file: describe types, compounds as structs after the fields."""
        types = {
            name: self._decimals.get(name) or self.ARROW_TYPES.get(self._kinds[name], pa.string())
            for name in self.fields
        }
        columns = [pa.field(name, kind) for name, kind in types.items()]
        columns += [
            pa.field(name, pa.struct([(key, types[column]) for key, column in parts]))
            for name, parts in self.compounds
        ]
        return pa.schema(columns)

    def to_arrow(self, table: pa.Table) -> pa.Table:
        """A typed CSV page as a batch table: datetimes and dates typed, compounds as structs."""
        schema = self.arrow_schema()
        columns = [table[name].cast(schema.field(name).type) for name in self.fields]
        for name, parts in self.compounds:
            children = [
                table[column].combine_chunks().cast(schema.field(column).type)
                for _, column in parts
            ]
            all_null = functools.reduce(pc.and_, [pc.is_null(c) for c in children])
            columns.append(
                pa.StructArray.from_arrays(
                    children, fields=list(schema.field(name).type), mask=all_null
                )
            )
        return pa.Table.from_arrays(columns, schema=schema)

    def compounds_of(self, table: pa.Table) -> list[Compound]:
        """The compounds whose every component is a column of ``table`` (none on a page of
        getDeleted tombstones: Id, IsDeleted, the key and ``_sdc_deleted_at``)."""
        columns = set(table.column_names)
        return [
            (name, parts) for name, parts in self.compounds if all(c in columns for _, c in parts)
        ]

    def from_table(self, table: pa.Table) -> Iterator[dict]:
        """A page's records (compounds assembled), a slice at a time: a 50,000-row Bulk page as
        dicts all at once would hold tens of MB more per stream (streams read side by side).

        Exact decimals are read from their text, in their place: Arrow's own conversion costs
        twice as much per value.
        """
        compounds = self.compounds_of(table)
        decimals = [
            (index, field.name)
            for index, field in enumerate(table.schema)
            if pa.types.is_decimal(field.type)
        ]
        for offset in range(0, table.num_rows, RECORDS_PER_SLICE):
            part = table.slice(offset, RECORDS_PER_SLICE)
            plain = part
            for index, name in decimals:
                plain = plain.set_column(index, name, pa.nulls(part.num_rows))
            records = plain.to_pylist()
            for _, name in decimals:
                texts = part[name].cast(pa.string()).to_pylist()
                for record, text in zip(records, texts, strict=True):
                    if text is not None:
                        record[name] = decimal.Decimal(text)
            for record in records:
                yield _with_compounds(record, compounds)


def _with_compounds(record: dict, compounds: list[Compound]) -> dict:
    for name, parts in compounds:
        values = {key: record.get(column) for key, column in parts}
        record[name] = values if any(v is not None for v in values.values()) else None
    return record
