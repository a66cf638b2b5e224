"""How a stream's batch goes into its Delta table: the merge plan, decided once per SCHEMA (pure).

Three kinds of stream, told apart by what the SCHEMA message says:

- **mutable** (``upsert``): a key and a replication key (``bookmark_properties``), else a key and
  one of the modstamp columns. A row replaces the stored row of its key unless both carry a stamp
  and the stored one is newer; on equal stamps the later delivery wins, as it does inside one
  batch, so the table never depends on where a flush fell. A null stamp always wins (the row
  cannot be ordered, and it is the newest news). Keyed streams without any stamp (full-table
  objects) are upserted too, the last delivered row winning. ``history_tracked_fields`` (key
  ``object_name, field_name``, bookmark ``snapshot_at``) is one: its snapshots change.
- **immutable** (``insert_new``): a key and a replication key that proves a row never changes:
  ``CreatedDate`` of Salesforce's insert-only ``*History`` objects, or an ``event_id`` key, which
  hashes the decision it names (also per org: ``_sdc_org_id, event_id``, the tap's
  ``org_id_column``). Rows are inserted when their key is new and never rewritten, so
  re-runs stay deduplicated and the merge never rewrites old files.
- **keyless** (``append``): appended as they come (at-least-once, like the Parquet output).

Tombstones (``_sdc_deleted_at`` set, or ``IsDeleted`` true: hard deletes from getDeleted and
soft deletes from queryAll) delete the stored row of their key unless it is newer. A tombstone
without a stamp takes ``_sdc_deleted_at`` as its stamp (``stamp_tombstones``), and the newest
deletion of each key is remembered (``keep_undeleted``) so that an older copy re-delivered after
the delete never brings the record back, whatever the key's shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import pyarrow as pa
import pyarrow.compute as pc

MODSTAMPS = ("SystemModstamp", "LastModifiedDate")
# Replication keys and keys that prove a row is never rewritten (see the module doc).
IMMUTABLE_BOOKMARKS = ("CreatedDate",)
CONTENT_KEYS = (("event_id",), ("_sdc_org_id", "event_id"))
DELETED_AT = "_sdc_deleted_at"
IS_DELETED = "IsDeleted"
SOURCE, TARGET = "s", "t"


@dataclass(frozen=True)
class MergePlan:
    """What one batch does to a table; ``version`` is the column whose larger value wins."""

    mode: str  # "upsert" | "insert_new" | "append"
    keys: tuple[str, ...]
    version: str | None = None
    tombstones: tuple[str, ...] = ()  # the tombstone columns the stream has

    @property
    def merges(self) -> bool:
        return self.mode != "append"


def plan_for(
    properties: Sequence[str],
    key_properties: Sequence[str] | None,
    bookmark_properties: Sequence[str] | None,
) -> MergePlan:
    """The plan of a stream from its columns, key and replication key (see the module doc)."""
    columns = set(properties)
    tombstones = tuple(c for c in (DELETED_AT, IS_DELETED) if c in columns)
    keys = tuple(key_properties or ())
    if not keys:
        return MergePlan("append", ())
    bookmark = next(iter(bookmark_properties or ()), None)
    if bookmark and bookmark in columns:
        immutable = bookmark in IMMUTABLE_BOOKMARKS or keys in CONTENT_KEYS
        return MergePlan("insert_new" if immutable else "upsert", keys, bookmark, tombstones)
    stamp = next((c for c in MODSTAMPS if c in columns), None)
    return MergePlan("upsert", keys, stamp, tombstones)


def latest_per_key(table: pa.Table, plan: MergePlan) -> pa.Table:
    """One row per key (a merge source must not match a stored row twice): the newest by
    ``version``, on a tie the later in input order (the tap emits rows in stamp order)."""
    if not plan.merges or table.num_rows == 0:
        return table
    order = pa.array(range(table.num_rows), pa.int64())
    ranked = table.select(list(plan.keys)).append_column("__row", order)
    sort = [("__row", "ascending")]
    if plan.version:
        ranked = ranked.append_column("__version", table[plan.version])
        sort.insert(0, ("__version", "ascending"))
    ranked = ranked.sort_by(sort)
    ranked = ranked.append_column("__rank", order)
    last = ranked.group_by(list(plan.keys), use_threads=False).aggregate([("__rank", "max")])
    if last.num_rows == table.num_rows:
        return table
    rows = pc.take(ranked["__row"], last["__rank_max"])
    return table.take(pc.take(rows, pc.sort_indices(rows)))


class MergeClauses(TypedDict):
    """SQL predicates of a merge: ``on`` always; the others None when the clause is not used."""

    on: str
    update: str | None
    delete: str | None
    insert: str | None


def merge_clauses(plan: MergePlan) -> MergeClauses:
    """Predicates (SQL over ``s`` the batch and ``t`` the table) of each merge clause."""
    s, t = SOURCE, TARGET
    on = " AND ".join(f"{t}.`{k}` = {s}.`{k}`" for k in plan.keys)
    alive = " AND ".join(
        f"{s}.`{c}` IS NULL" if c == DELETED_AT else f"({s}.`{c}` IS NULL OR NOT {s}.`{c}`)"
        for c in plan.tombstones
    )
    dead = f"NOT ({alive})" if alive else None
    if plan.version:
        v = plan.version
        not_older = f"({t}.`{v}` IS NULL OR {s}.`{v}` IS NULL OR {s}.`{v}` >= {t}.`{v}`)"
    else:
        not_older = "TRUE"
    update = None
    if plan.mode == "upsert":
        update = f"{alive} AND {not_older}" if alive else not_older
    delete = f"{dead} AND {not_older}" if dead else None
    return {"on": on, "update": update, "delete": delete, "insert": alive or None}


def alive_mask(table: pa.Table, plan: MergePlan) -> pa.ChunkedArray | pa.Array:
    """True for rows that are not tombstones."""
    alive: pa.Array | pa.ChunkedArray = pa.array([True] * table.num_rows, pa.bool_())
    for column in plan.tombstones:
        values = table[column]
        dead = pc.fill_null(values, False) if column == IS_DELETED else pc.is_valid(values)
        alive = pc.and_(alive, pc.invert(dead))
    return alive


def stamp_tombstones(table: pa.Table, plan: MergePlan) -> pa.Table:
    """A tombstone without a stamp (only ``_sdc_deleted_at``, as the SDK sends deletes) takes
    its deletion time as the stamp: it then orders against re-delivered copies like any row."""
    v = plan.version
    if not v or DELETED_AT not in table.column_names or table.num_rows == 0:
        return table
    stamps, deleted_at = table[v], table[DELETED_AT]
    if not pa.types.is_timestamp(stamps.type) or not pa.types.is_timestamp(deleted_at.type):
        return table
    if not pc.any(pc.and_(pc.is_null(stamps), pc.is_valid(deleted_at))).as_py():
        return table
    filled = pc.coalesce(stamps, pc.cast(deleted_at, stamps.type))
    return table.set_column(table.schema.get_field_index(v), table.schema.field(v), filled)


def keep_undeleted(batch: pa.Table, deleted: pa.Table, plan: MergePlan) -> pa.Table:
    """The batch without live rows older than their key's remembered deletion (``deleted``: the
    keys and newest deletion stamp). Equal stamps keep the row: the later delivery wins."""
    v = plan.version
    if batch.num_rows == 0 or deleted.num_rows == 0 or not v:
        return batch
    keys = list(plan.keys)
    rows = batch.select(keys).append_column("__row", pa.array(range(batch.num_rows), pa.int64()))
    rows = rows.append_column("__stamp", batch[v])
    memory = deleted.select([*keys, v]).rename_columns([*keys, "__deleted"])
    joined = rows.join(memory, keys=keys, join_type="left outer", use_threads=False)
    stale = pc.fill_null(pc.less(joined["__stamp"], joined["__deleted"]), False)
    drop = pc.filter(joined["__row"], stale)
    if len(drop) == 0:
        return batch
    mask = pc.invert(pc.is_in(pa.array(range(batch.num_rows), pa.int64()), value_set=drop))
    return batch.filter(pc.or_(mask, pc.invert(alive_mask(batch, plan))))


def with_columns(table: pa.Table, names: Sequence[str], schema: pa.Schema) -> pa.Table:
    """``table``'s columns ``names`` in that order; one it lacks is nulls of ``schema``'s type."""
    columns = [
        table[name]
        if name in table.column_names
        else pa.nulls(table.num_rows, schema.field(name).type)
        for name in names
    ]
    return pa.Table.from_arrays(columns, names=list(names))
