"""How a chunk read by Arrow's JSON reader becomes the stream's table: a plan per property, built
once per SCHEMA, and the checks and casts of a chunk run over all its columns at once.

A chunk is a run of RECORD lines (about a megabyte: a few dozen rows of a 450-field object).
Checked and cast column by column, each column cost a regex, a cast and a finiteness check, each a
compute call of fixed Python cost, per chunk: for wide rows more than Arrow's parse of the chunk
itself. Here every check runs once per chunk over every value it applies to (all date columns'
strings in one array, all doubles in another), and the columns of one (type read, type stored)
pair are cast together, so a chunk costs Arrow's work per value plus a handful of calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from .arrow import TIMESTAMP
from .checks import DATE_PATTERN, DATETIME_PATTERN
from .decimal_guard import wide_decimal
from .json_schema import non_null_kinds

_SCALARS = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
}
_LIST_ITEMS = -1  # a step into a list's items in a leaf's path (other steps: a struct child)
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError)


@dataclass(frozen=True)
class Plan:
    """How one stored column (or struct child, or list item) is read and checked.

    ``read`` is what Arrow's reader is told to expect; ``None`` means the stored value is JSON
    text (an open object or a mixed-type value), taken from a msgspec pass over the chunk
    instead, since Arrow's reader has no raw-JSON type.
    """

    target: pa.DataType
    read: pa.DataType | None
    kind: str = ""  # the JSON kind of a JSON-text value ("object": must be one; "": any)
    children: tuple[tuple[str, Plan], ...] = ()
    item: Plan | None = None

    @property
    def has_json_text(self) -> bool:
        """JSON text here or in a struct child (a list of JSON text has no plan)."""
        return self.read is None or any(child.has_json_text for _, child in self.children)


def plan_for(spec: dict, target: pa.DataType) -> Plan | None:
    """The plan for one property, or None when only the per-record path can convert it."""
    kinds = non_null_kinds(spec)
    if target == pa.string() and (len(kinds) != 1 or kinds[0] in ("object", "array")):
        # Stored as JSON text: an open object, or values of several JSON types.
        return Plan(target, None, kind=kinds[0] if len(kinds) == 1 else "")
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    if pa.types.is_struct(target):
        children = plans_for(spec.get("properties") or {}, target)
        if children is None:
            return None
        read_fields = [pa.field(n, p.read) for n, p in children if p.read is not None]
        return Plan(target, pa.struct(read_fields), children=tuple(children))
    if pa.types.is_list(target):
        item = plan_for(spec.get("items") or {}, target.value_type)
        if item is None or needs_python(item):
            return None  # JSON text or decimals inside a list: per record
        return Plan(target, pa.list_(item.read), item=item)
    if target in (TIMESTAMP, pa.date32()):
        return Plan(target, pa.string())
    if pa.types.is_decimal(target) and kind == "number":
        # Read wide, then cast (see ``DecimalGuard``): every value that fits the column reads
        # exactly, trailing zeros and all (a real org's 100.0 in a percent(3, 0)).
        return Plan(target, wide_decimal(target), kind="number")
    if _SCALARS.get(kind) == target:
        return Plan(target, target)
    return None


def plans_for(
    properties: dict[str, dict], fields: Iterable[pa.Field]
) -> list[tuple[str, Plan]] | None:
    """(name, plan) of each field, or None when any of them has no plan."""
    plans = []
    for field in fields:
        plan = plan_for(properties[field.name], field.type)
        if plan is None:
            return None
        plans.append((field.name, plan))
    return plans


def needs_python(plan: Plan) -> bool:
    """JSON text, or a decimal (inside a list no key names it for ``DecimalGuard``)."""
    return (
        plan.read is None
        or plan.kind == "number"
        or any(needs_python(child) for _, child in plan.children)
        or (plan.item is not None and needs_python(plan.item))
    )


def python_paths(
    plans: Sequence[tuple[str, Plan]], prefix: tuple[str, ...] = (), *, numbers: bool = False
) -> list:
    """(path, plan) of every JSON-text value (and decimal, with ``numbers``), through structs."""
    found: list = []
    for name, plan in plans:
        path = (*prefix, name)
        if plan.read is None or (numbers and plan.kind == "number"):
            found.append((path, plan))
        else:
            found.extend(python_paths(plan.children, path, numbers=numbers))
    return found


def _cast_type(plan: Plan) -> pa.DataType:
    """The stored type of what Arrow's reader reads (JSON-text struct children left out)."""
    if plan.children:
        return pa.struct(
            [pa.field(n, _cast_type(p)) for n, p in plan.children if p.read is not None]
        )
    if plan.item is not None:
        return pa.list_(_cast_type(plan.item))
    return plan.target


def _leaves(plan: Plan, path: tuple[int, ...], found: dict[str, list]) -> None:
    """Index paths of the values each bulk check looks at: date and date-time strings (the
    per-record check's patterns) and doubles (a 400-digit integer reads as infinity)."""
    if plan.children:
        readable = [child for _, child in plan.children if child.read is not None]
        for index, child in enumerate(readable):
            _leaves(child, (*path, index), found)
    elif plan.item is not None:
        _leaves(plan.item, (*path, _LIST_ITEMS), found)
    elif plan.target == TIMESTAMP:
        found[DATETIME_PATTERN].append(path)
    elif plan.target == pa.date32():
        found[DATE_PATTERN].append(path)
    elif plan.target == pa.float64():
        found["float"].append(path)


class ChunkCast:
    """Checks a chunk's records as read and casts them to the stream's table in bulk."""

    def __init__(self, arrow: pa.Schema, plans: Sequence[tuple[str, Plan]], keys: frozenset[str]):
        self.arrow = arrow
        self._plans = plans
        readable = [(n, p) for n, p in plans if p.read is not None]
        self.read_type = pa.struct([pa.field(n, p.read) for n, p in readable])
        self._found: dict[str, list] = {DATETIME_PATTERN: [], DATE_PATTERN: [], "float": []}
        # Columns cast together, one cast per (type as read, type stored): 115 date columns of a
        # wide object are one array of strings to a cast, not 115 casts.
        self._groups: dict[tuple[pa.DataType, pa.DataType], list[int]] = {}
        for index, (_, plan) in enumerate(readable):
            _leaves(plan, (index,), self._found)
            stored = _cast_type(plan)
            if stored != plan.read:
                self._groups.setdefault((plan.read, stored), []).append(index)
        self._keys = [index for index, (name, _) in enumerate(plans) if name in keys]
        # Without JSON text anywhere the columns as read are the table's, in its order.
        self._whole = len(readable) == len(plans) and not any(p.has_json_text for _, p in plans)

    def table(self, records: pa.StructArray, json_values: dict) -> pa.Table | None:
        """``records`` (of ``read_type``, no null record) as the stored table; None on any doubt,
        so that the per-record path decides and words the error."""
        columns = [records.field(index) for index in range(records.type.num_fields)]
        if not self._checked(columns):
            return None
        try:
            for (_, stored), indexes in self._groups.items():
                _cast_together(columns, indexes, stored)
        except _CAST_ERRORS:
            return None  # e.g. a date-time without a zone (the per-record path reads it as UTC)
        if not self._whole:
            columns = self._with_json_text(columns, json_values)
        if any(columns[index].null_count for index in self._keys):
            return None  # missing and null keys differ: the per-record path tells them apart
        return pa.Table.from_arrays(columns, schema=self.arrow)

    def _checked(self, columns: list[pa.Array]) -> bool:
        """Every date and date-time string matches the per-record check's pattern (run by RE2:
        its \\d and $ are stricter than Python's, so what passes here passes there) and none is
        year 0 (Arrow takes it, Python refuses it); every double is finite."""
        for check, paths in self._found.items():
            if not paths:
                continue
            arrays = [_leaf(columns, path) for path in paths]
            values = arrays[0] if len(arrays) == 1 else pa.concat_arrays(arrays)
            if check == "float":
                if pc.all(pc.is_finite(values)).as_py() is False:
                    return False
            elif (
                pc.all(pc.match_substring_regex(values, check)).as_py() is False
                or pc.any(pc.starts_with(values, "0000")).as_py()
            ):
                return False
        return True

    def _with_json_text(self, cast: list[pa.Array], json_values: dict) -> list[pa.Array]:
        """The cast columns in the table's order, JSON text put in where it belongs."""
        columns = []
        read = iter(cast)
        for name, plan in self._plans:
            if plan.read is None:
                columns.append(json_values[(name,)])
                continue
            column = next(read)
            if plan.has_json_text:
                column = _struct_with_json_text(column, plan, (name,), json_values)
            columns.append(column)
        return columns


def _cast_together(columns: list[pa.Array], indexes: list[int], stored: pa.DataType) -> None:
    """Cast ``columns[i]`` for every i of ``indexes`` (all of one type) to ``stored``, in one go."""
    if len(indexes) == 1:
        columns[indexes[0]] = columns[indexes[0]].cast(stored)
        return
    rows = len(columns[indexes[0]])
    values = pa.concat_arrays([columns[index] for index in indexes]).cast(stored)
    for position, index in enumerate(indexes):
        columns[index] = values.slice(position * rows, rows)


def _leaf(columns: list[pa.Array], path: tuple[int, ...]) -> pa.Array:
    array = columns[path[0]]
    for step in path[1:]:
        array = array.flatten() if step == _LIST_ITEMS else array.field(step)
    return array


def _struct_with_json_text(
    array: pa.StructArray, plan: Plan, path: tuple[str, ...], json_values: dict
) -> pa.StructArray:
    """A cast struct with its JSON-text children put in (null where the struct is null)."""
    children = []
    index = 0
    for name, child_plan in plan.children:
        if child_plan.read is None:
            children.append(json_values[(*path, name)])
            continue
        child = array.field(index)
        index += 1
        if child_plan.has_json_text:
            child = _struct_with_json_text(child, child_plan, (*path, name), json_values)
        children.append(child)
    mask = pc.invert(array.is_valid()) if array.null_count else None
    return pa.StructArray.from_arrays(children, fields=list(plan.target), mask=mask)
