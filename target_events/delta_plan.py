"""How a stream's batch goes into its Delta table: the merge plan, decided once per SCHEMA (pure).

Three kinds of stream, told apart by what the SCHEMA message says:

- **mutable** (``upsert``): a key and a modification stamp, the replication key given in
  ``bookmark_properties`` when it is ``SystemModstamp`` or ``LastModifiedDate``, else one of those
  columns. A row replaces the stored row of its key only when its stamp is newer, so a re-delivered
  older copy never overwrites a newer row. Keyed streams without any stamp (full-table objects)
  are upserted too, the last delivered row winning.
- **immutable** (``insert_new``): a key and any other replication key (``CreatedDate`` of the
  insert-only ``*History`` objects, ``timestamp_recorded`` of micro_decision_events, whose
  ``event_id`` hashes its source): rows are inserted when their key is new and never rewritten,
  so re-runs stay deduplicated and the merge never rewrites old files.
- **keyless** (``append``): appended as they come (at-least-once, like the Parquet output).

Tombstones (``_sdc_deleted_at`` set, or ``IsDeleted`` true: hard deletes from getDeleted and
soft deletes from queryAll) delete the stored row of their key, unless it is newer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

MODSTAMPS = ("SystemModstamp", "LastModifiedDate")
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
        if bookmark in MODSTAMPS:
            return MergePlan("upsert", keys, bookmark, tombstones)
        return MergePlan("insert_new", keys, bookmark, tombstones)
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


def merge_clauses(plan: MergePlan) -> dict[str, str | None]:
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
        newer = f"({t}.`{v}` IS NULL OR {s}.`{v}` > {t}.`{v}`)"
        not_older = f"({t}.`{v}` IS NULL OR {s}.`{v}` >= {t}.`{v}`)"
    else:
        newer = not_older = "TRUE"
    update = None
    if plan.mode == "upsert":
        update = f"{alive} AND {newer}" if alive else newer
    delete = f"{dead} AND {not_older}" if dead else None
    return {"on": on, "update": update, "delete": delete, "insert": alive or None}
