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
from dataclasses import dataclass
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .arrow import TIMESTAMP
from .checks import DATE_PATTERN, DATETIME_PATTERN, decimal_problem
from .decimal_guard import DecimalGuard, wide_decimal
from .errors import InputError
from .json_schema import json_text, non_null_kinds

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


_SCALARS = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}


@dataclass(frozen=True)
class _Plan:
    """How one stored column (or struct child, or list item) is read and checked.

    ``read`` is what Arrow's reader is told to expect; ``None`` means the stored value is JSON
    text (an open object or a mixed-type value), taken from a msgspec pass over the chunk
    instead, since Arrow's reader has no raw-JSON type.
    """

    target: pa.DataType
    read: pa.DataType | None
    kind: str = ""  # the JSON kind of a JSON-text value ("object": must be one; "": any)
    children: tuple[tuple[str, _Plan], ...] = ()
    item: _Plan | None = None


def _plan(spec: dict, target: pa.DataType) -> _Plan | None:
    """The plan for one property, or None when only the per-record path can convert it."""
    kinds = non_null_kinds(spec)
    if target == pa.string() and (len(kinds) != 1 or kinds[0] in ("object", "array")):
        # Stored as JSON text: an open object, or values of several JSON types.
        return _Plan(target, None, kind=kinds[0] if len(kinds) == 1 else "")
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    if pa.types.is_struct(target):
        properties = spec.get("properties") or {}
        children = []
        for child in target:
            plan = _plan(properties[child.name], child.type)
            if plan is None:
                return None
            children.append((child.name, plan))
        read_fields = [pa.field(n, p.read) for n, p in children if p.read is not None]
        return _Plan(target, pa.struct(read_fields), children=tuple(children))
    if pa.types.is_list(target):
        item = _plan(spec.get("items") or {}, target.value_type)
        if item is None or _needs_python(item):
            return None  # JSON text or decimals inside a list: per record
        return _Plan(target, pa.list_(item.read), item=item)
    if target in (TIMESTAMP, pa.date32()):
        return _Plan(target, pa.string())
    if pa.types.is_decimal(target) and kind == "number":
        # Read wide, then cast (see ``DecimalGuard``): every value that fits the column reads
        # exactly, trailing zeros and all (a real org's 100.0 in a percent(3, 0)).
        return _Plan(target, wide_decimal(target), kind="number")
    if _SCALARS.get(kind) == target:
        return _Plan(target, target)
    return None


def _needs_python(plan: _Plan) -> bool:
    """JSON text, or a decimal (inside a list no key names it for ``DecimalGuard``)."""
    return (
        plan.read is None
        or plan.kind == "number"
        or any(_needs_python(child) for _, child in plan.children)
        or (plan.item is not None and _needs_python(plan.item))
    )


def _python_paths(
    plans: Sequence[tuple[str, _Plan]], prefix: tuple[str, ...] = (), *, numbers: bool = False
) -> list:
    """(path, plan) of every JSON-text value (and decimal, with ``numbers``), through structs."""
    found: list = []
    for name, plan in plans:
        path = (*prefix, name)
        if plan.read is None or (numbers and plan.kind == "number"):
            found.append((path, plan))
        else:
            found.extend(_python_paths(plan.children, path, numbers=numbers))
    return found


class ChunkConverter:
    """Turns a chunk of raw JSON objects into the stream's table, or says it cannot (None)."""

    def __init__(
        self,
        arrow: pa.Schema,
        plans: list[tuple[str, _Plan]],
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
        self._plans = plans
        self._json_paths = _python_paths(plans)
        self._json_text = bool(self._json_paths)
        # The per-value pass, for a chunk the guard is unsure of (decimals checked one by one).
        self._careful_paths = _python_paths(plans, numbers=True)
        self._guard = DecimalGuard.for_columns(
            (path[-1], plan.target) for path, plan in self._careful_paths if plan.kind == "number"
        )
        unexpected = "ignore" if self._json_text else "infer"
        read_as = pa.schema([pa.field(n, p.read) for n, p in plans if p.read is not None])
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
        plans = []
        for field in arrow:
            plan = _plan(properties[field.name], field.type)
            if plan is None:
                return None
            plans.append((field.name, plan))
        return cls(arrow, plans, keys, on_unknown)

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
        json_values = self._json_values(raws, paths) if paths else {}
        return None if json_values is None else self._typed(table, json_values)

    def convert_messages(self, lines: bytes, count: int) -> pa.Table | None:
        """``count`` whole RECORD lines of this stream (the reader checked their envelopes)."""
        table = _read(lines, self._parse_messages)
        if table is None or table.num_rows != count:
            return None
        records = table["record"].combine_chunks()
        if records.null_count:
            return None  # a line without its record object: the per-line path names it
        read = pa.Table.from_arrays(records.flatten(), names=[f.name for f in records.type])
        json_values: dict | None = {}
        paths = self._paths_for(lines)
        if paths:
            try:
                raws = [envelope_decoder.decode(line).record for line in lines.splitlines()]
            except msgspec.DecodeError:
                return None
            json_values = self._json_values(raws, paths)
        return None if json_values is None else self._typed(read, json_values)

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
                elif value is None or (isinstance(value, str) and not plan.kind):
                    columns[path].append(value)
                elif plan.kind == "object" and not isinstance(value, dict):
                    return None  # the per-record check words it
                else:
                    columns[path].append(json_text(value))
        if unknown:
            self.on_unknown(sorted(unknown))
        return {path: pa.array(values, type=pa.string()) for path, values in columns.items()}

    def _typed(self, table: pa.Table, json_values: dict) -> pa.Table | None:
        if not self._known.issuperset(table.column_names):
            self.on_unknown([name for name in table.column_names if name not in self._known])
        columns = []
        for name, plan in self._plans:
            if plan.read is None:
                column: pa.Array | None = json_values[(name,)]
            else:
                column = _typed_array(table[name].combine_chunks(), plan, (name,), json_values)
            if column is None:
                return None
            if name in self.keys and column.null_count:
                return None  # missing and null keys differ: the per-record path tells them apart
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=self.arrow)


def _typed_array(
    array: pa.Array, plan: _Plan, path: tuple[str, ...], json_values: dict
) -> pa.Array | None:
    """``array`` as read, checked and cast to the stored type; None on any doubt."""
    target = plan.target
    if pa.types.is_struct(target):
        valid = array.is_valid()
        flat = {array.type.field(i).name: child for i, child in enumerate(array.flatten())}
        children = []
        for name, child_plan in plan.children:
            if child_plan.read is None:
                child = json_values[(*path, name)]  # null where the struct is null
            else:
                child = _typed_array(flat[name], child_plan, (*path, name), json_values)
            if child is None:
                return None
            children.append(child)
        mask = pc.invert(valid) if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_list(target):
        assert plan.item is not None
        if array.offset:
            array = pa.concat_arrays([array])  # offsets from zero
        items = _typed_array(array.values, plan.item, path, json_values)
        if items is None:
            return None
        mask = pc.invert(array.is_valid()) if array.null_count else None
        return pa.ListArray.from_arrays(array.offsets, items, type=target, mask=mask)
    if target in (TIMESTAMP, pa.date32()):
        # The per-record check's own pattern, run by RE2: its \d and $ are stricter than
        # Python's (ASCII digits, no trailing newline), so what passes here passes there.
        pattern = DATETIME_PATTERN if target == TIMESTAMP else DATE_PATTERN
        if pc.all(pc.match_substring_regex(array, pattern)).as_py() is False:
            return None
        if pc.any(pc.starts_with(array, "0000")).as_py():
            return None  # Arrow takes year 0, which the per-record check (and Python) refuse
        try:
            return array.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            return None  # e.g. no zone: the per-record path reads it as UTC
    if pa.types.is_decimal(target) and array.type != target:
        try:
            return array.cast(target)  # safe: refuses a digit past the scale or the precision
        except (pa.ArrowInvalid, OverflowError):
            return None  # the per-record check words it
    if target == pa.float64() and pc.any(pc.invert(pc.is_finite(array))).as_py():
        return None  # a 400-digit integer reads as infinity; the check refuses it
    return array


def _read(data: bytes, options: pa_json.ParseOptions) -> pa.Table | None:
    try:
        data.decode("utf-8")  # Arrow's reader would take invalid UTF-8 into a string column
        return pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=options,
        )
    except (UnicodeDecodeError, pa.ArrowInvalid, pa.ArrowNotImplementedError, IndexError):
        return None  # IndexError: Arrow's inference of undeclared keys can fail on odd shapes
