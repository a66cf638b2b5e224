"""What users and time do to a running org, for tests: deletes, the Recycle Bin, field updates.

Each change keeps the org consistent the way Salesforce does, so a client sees exactly what a
real org would show it afterwards:

- ``delete``: a user's delete. Objects with a Recycle Bin (describe ``undeletable``) keep the row
  with IsDeleted (``queryAll`` and getDeleted see it) for 15 days; objects without one lose the
  row at once (only getDeleted, where the object supports it, still names it). A delete dated
  more than 15 days back finds the bin already emptied: the row is gone everywhere.
- ``hard_delete`` / ``empty_recycle_bin``: rows leave for good; getDeleted still reports them
  within its window.
- ``purge_delete_log``: the background purge of the delete log; getDeleted's
  earliestDateAvailable moves up.
- ``update``: fields change, LastModifiedDate and SystemModstamp move, tracked fields write field
  history, and formula fields that read them change on other records without those moving.
- ``set_today``: the org's TODAY(), which date formulas read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from .data.base import FieldHistoryWriter, money_text
from .data.columns import TableBuilder, mint_ids
from .data.formulas import refresh_formulas
from .data.org import SyntheticOrg
from .deletes import RECYCLE_BIN_DAYS, DeleteLog, utc_now
from .metadata import HISTORY_TRACKED, OBJECTS, FieldSpec, ObjectSpec

# Field history's DataType for a field type (the values the history objects' picklist carries).
HISTORY_DATA_TYPES = {
    "boolean": "Boolean",
    "currency": "Currency",
    "date": "Date",
    "datetime": "DateTime",
    "double": "Double",
    "percent": "Percent",
    "picklist": "Picklist",
    "reference": "EntityId",
    "textarea": "TextArea",
}
AUDIT_FIELDS = frozenset(
    {"Id", "IsDeleted", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById"}
    | {"SystemModstamp"}
)


class RecordChanges:
    """Changes to the org's rows, made under the org's lock."""

    def __init__(
        self,
        data: SyntheticOrg,
        find_object: Callable[[str], ObjectSpec | None],
        delete_log: DeleteLog,
        lock: threading.Lock,
        today: dt.date,
    ) -> None:
        self.data = data
        self.find_object = find_object
        self.delete_log = delete_log
        self.lock = lock
        self.today = today

    # -- deletes --
    def delete(self, object_name: str, ids: list[str], at: dt.datetime | None = None) -> None:
        spec = self._spec(object_name)
        if not spec.can_delete:
            raise ValueError(f"{spec.name} is not deletable: delete() is not one of its calls")
        moment = _moment(at)
        with self.lock:
            table = self.data.table(spec.name)
            self._existing(spec, table, ids)
            if spec.has_recycle_bin and moment > utc_now() - dt.timedelta(days=RECYCLE_BIN_DAYS):
                self._to_recycle_bin(spec, table, ids, moment)
            else:
                self._remove(spec, ids, moment)
            self._refresh_formulas()

    def hard_delete(self, object_name: str, ids: list[str], at: dt.datetime | None = None) -> None:
        """Delete rows for good (emptied recycle bin): only getDeleted still knows about them."""
        spec = self._spec(object_name)
        with self.lock:
            self._remove(spec, ids, _moment(at))
            self._refresh_formulas()

    def empty_recycle_bin(self, object_name: str, ids: list[str] | None = None) -> int:
        """emptyRecycleBin(): soft-deleted rows (these ``ids``, or all) leave for good; getDeleted
        keeps reporting them at their deletedDate. Returns how many rows left."""
        spec = self._spec(object_name)
        with self.lock:
            table = self.data.table(spec.name)
            if "IsDeleted" not in table.column_names:
                return 0
            binned = pc.fill_null(table["IsDeleted"], False)
            if ids is not None:
                binned = pc.and_(
                    binned, pc.is_in(table["Id"], value_set=pa.array(ids, pa.string()))
                )
            rows = table.filter(binned)
            self.data.replace(spec.name, table.filter(pc.invert(binned)))
            for record_id, when in zip(
                rows["Id"].to_pylist(), rows["SystemModstamp"].to_pylist(), strict=True
            ):
                self.delete_log.record(spec.name, [record_id], when)
            self._refresh_formulas()
            return rows.num_rows

    def purge_delete_log(self, object_name: str, before: dt.datetime | None = None) -> int:
        """The delete log's background purge: getDeleted no longer reaches before ``before``."""
        spec = self._spec(object_name)
        return self.delete_log.purge(spec.name, before or utc_now())

    # -- updates --
    def update(
        self,
        object_name: str,
        values: Mapping[str, Mapping[str, object]],
        at: dt.datetime | None = None,
        by: str | None = None,
    ) -> None:
        """Set fields of records (``{id: {field: value}}``) as a user's save does."""
        spec = self._spec(object_name)
        moment = _moment(at)
        actor = by or self.data.user_id(0)
        with self.lock:
            table = self.data.table(spec.name)
            positions = self._existing(spec, table, list(values))
            history = _HistoryRows(self.data, spec)
            columns = {name: table[name].to_pylist() for name in table.column_names}
            for record_id, fields in values.items():
                row = positions[record_id]
                for name, value in fields.items():
                    field = self._updatable(spec, name)
                    old, value = columns[field.name][row], _stored(field, value)
                    if old != value:
                        history.change(record_id, field, old, value, moment, actor)
                    columns[field.name][row] = value
                for name, stamp in (("LastModifiedDate", moment), ("SystemModstamp", moment)):
                    if name in columns:
                        columns[name][row] = stamp
                if "LastModifiedById" in columns:
                    columns["LastModifiedById"][row] = actor
            self.data.replace(spec.name, pa.Table.from_pydict(columns, schema=table.schema))
            history.write()
            self._refresh_formulas()

    def set_today(self, day: dt.date) -> None:
        """Move the org's TODAY(): date formulas change, no record's SystemModstamp does."""
        with self.lock:
            self.today = day
            self._refresh_formulas()

    # -- helpers --
    def _spec(self, object_name: str) -> ObjectSpec:
        spec = self.find_object(object_name)
        if spec is None:
            raise ValueError(f"no object {object_name!r} in this org")
        return spec

    @staticmethod
    def _existing(spec: ObjectSpec, table: pa.Table, ids: list[str]) -> dict[str, int]:
        positions = {record_id: n for n, record_id in enumerate(table["Id"].to_pylist())}
        missing = [i for i in ids if i not in positions]
        if missing:
            raise ValueError(f"no {spec.name} rows with ids {missing[:5]}")
        return positions

    @staticmethod
    def _updatable(spec: ObjectSpec, name: str) -> FieldSpec:
        field = spec.field(name)
        if field is None or field.name in AUDIT_FIELDS or field.calculated:
            raise ValueError(f"{spec.name}.{name} is not a field a save can set")
        return field

    def _to_recycle_bin(
        self, spec: ObjectSpec, table: pa.Table, ids: list[str], moment: dt.datetime
    ) -> None:
        hit = pc.and_(
            pc.is_in(table["Id"], value_set=pa.array(ids, pa.string())),
            pc.invert(pc.fill_null(table["IsDeleted"], False)),
        )
        stamp = pa.scalar(moment, table.schema.field("SystemModstamp").type)
        for name in ("IsDeleted", "LastModifiedDate", "SystemModstamp"):
            if name in table.column_names:
                value = pa.scalar(True) if name == "IsDeleted" else stamp
                index = table.schema.get_field_index(name)
                table = table.set_column(
                    index, table.schema.field(index), pc.if_else(hit, value, table[name])
                )
        self.data.replace(spec.name, table)

    def _remove(self, spec: ObjectSpec, ids: list[str], moment: dt.datetime) -> None:
        table = self.data.table(spec.name)
        keep = pc.invert(pc.is_in(table["Id"], value_set=pa.array(ids, type=pa.string())))
        self.data.replace(spec.name, table.filter(keep))
        self.delete_log.record(spec.name, ids, moment)

    def _refresh_formulas(self) -> None:
        for name, table in refresh_formulas(self.data.table, self.today).items():
            self.data.replace(name, table)


class _HistoryRows:
    """The field history rows one save writes for the parent's tracked fields."""

    def __init__(self, data: SyntheticOrg, parent: ObjectSpec) -> None:
        self.data = data
        self.tracked = set(HISTORY_TRACKED.get(parent.name, ()))
        self.spec = next((o for o in OBJECTS if o.history_of == parent.name), None)
        self.builder = TableBuilder(self.spec) if self.spec is not None else None
        self.parent_field = next(
            (
                f.name
                for f in (self.spec.fields if self.spec else ())
                if f.reference_to == (parent.name,)
            ),
            "ParentId",
        )

    def change(
        self, record_id: str, field: FieldSpec, old: object, new: object, at: dt.datetime, by: str
    ) -> None:
        if self.builder is None or field.name not in self.tracked:
            return
        writer = FieldHistoryWriter(self.builder, self.parent_field, record_id)
        when = int(at.timestamp())
        if field.name == "OwnerId":  # two rows, ids then names, as Salesforce writes them
            names = dict(
                zip(
                    self.data.table("User")["Id"].to_pylist(),
                    self.data.table("User")["Name"].to_pylist(),
                    strict=True,
                )
            )
            writer.change(when, by, "Owner", "EntityId", old, new)
            writer.change(when, by, "Owner", "Text", names.get(old), names.get(new))
            return
        data_type = HISTORY_DATA_TYPES.get(field.type, "Text")
        if field.type in ("currency", "double", "percent"):
            old, new = (money_text(_number(v)) for v in (old, new))
        writer.change(when, by, field.name, data_type, old, new)

    def write(self) -> None:
        if self.builder is None or self.spec is None or not self.builder.rows:
            return
        existing = self.data.table(self.spec.name)
        added = self.builder.to_table()
        ids = pa.array(mint_ids(self.spec.key_prefix, existing.num_rows + 1, added.num_rows))
        added = added.set_column(added.schema.get_field_index("Id"), "Id", ids)
        self.data.replace(self.spec.name, pa.concat_tables([existing, added]).combine_chunks())


def _stored(field: FieldSpec, value: object) -> object:
    """A value as the table stores it: currency and percent as exact decimals of their scale."""
    if field.type in ("currency", "percent") and isinstance(value, (int, float)):
        return decimal.Decimal(f"{value:.{field.scale}f}")
    return value


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    raise ValueError(f"not a number: {value!r}")


def _moment(at: dt.datetime | None) -> dt.datetime:
    """When a change happens: ``at``, or two seconds ago (so a run starting now includes it);
    whole seconds, as Salesforce stores them."""
    moment = at or utc_now() - dt.timedelta(seconds=2)
    return moment.astimezone(dt.timezone.utc).replace(microsecond=0)
