"""History mode (``lake_mode: history``, SCD type 2): a key's timeline from its events (pure).

A history table keeps every version of a key. Each row is one event of its key, placed by the
stream's replication key (its stamp, e.g. SystemModstamp), with four columns of its own:

- ``_valid_from``: the event's stamp;
- ``_valid_to``: the next event's stamp (null: nothing later is known, the version is current);
- ``_is_deleted``: the event is a delete (a tombstone: ``IsDeleted`` true or ``_sdc_deleted_at``
  set, or a key a full-table version no longer holds). A delete is a zero-length interval
  (``_valid_to = _valid_from``): no "as of" read ever returns it, yet it stays in the timeline,
  so a copy of an older version arriving after the delete is put before it and stays closed;
- ``_is_current``: ``_valid_to`` is null and the event is not a delete.

The timeline is recomputed from the stored events of the batch's keys plus the batch's: events
sort by stamp, each closes the one before. An event whose key and stamp are stored already is
the same version delivered again: it replaces the stored one (equal content: nothing changes),
as the later delivery wins in the current-state mirror. So a re-delivered copy changes nothing,
an older version arriving late is inserted in its place (closing at its successor's stamp), and
recomputing the same events again gives the same rows: a rerun after a kill is exact.

"As of" a moment T, the mirror is the rows with ``_valid_from <= T < _valid_to`` (or
``_valid_to`` null): ``as_of`` reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from .delta_plan import MergePlan, alive_mask

VALID_FROM, VALID_TO, IS_CURRENT, IS_DELETED_EVENT = (
    "_valid_from",
    "_valid_to",
    "_is_current",
    "_is_deleted",
)
HISTORY_COLUMNS = (VALID_FROM, VALID_TO, IS_CURRENT, IS_DELETED_EVENT)
STAMP_TYPE = pa.timestamp("us", tz="UTC")


class HistoryError(ValueError):
    """A batch a history table cannot place (no key, no stamp): one line for the user."""


def events(table: pa.Table, plan: MergePlan) -> pa.Table:
    """The batch as history events: its rows with ``_valid_from`` (their stamp) and
    ``_is_deleted``; one event per key and stamp (the later delivery wins)."""
    if not plan.keys or not plan.version:
        raise HistoryError("history mode needs a key and a replication key (or SystemModstamp)")
    stamps = table[plan.version]
    if not pa.types.is_timestamp(stamps.type):
        raise HistoryError(f"history mode needs a date-time replication key; {plan.version} is not")
    if table.num_rows and pc.any(pc.is_null(stamps)).as_py():
        raise HistoryError(
            f"a record without {plan.version} cannot be placed in the history (its version time)"
        )
    stamped = table.drop_columns([c for c in HISTORY_COLUMNS if c in table.column_names])
    stamped = stamped.append_column(VALID_FROM, pc.cast(stamps, STAMP_TYPE))
    deleted = pc.invert(alive_mask(table, plan))
    stamped = stamped.append_column(IS_DELETED_EVENT, deleted)
    return last_per_event(stamped, plan.keys)


def tombstones(keys: pa.Table, moment: pa.Scalar) -> pa.Table:
    """Delete events at ``moment`` for ``keys`` (a table of key columns only)."""
    return keys.append_column(
        VALID_FROM, pa.array([moment.as_py()] * keys.num_rows, STAMP_TYPE)
    ).append_column(IS_DELETED_EVENT, pa.array([True] * keys.num_rows, pa.bool_()))


def last_per_event(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """One row per key and ``_valid_from``: the last in input order."""
    if table.num_rows == 0:
        return table
    order = pa.array(range(table.num_rows), pa.int64())
    ranked = table.select([*keys, VALID_FROM]).append_column("__row", order)
    last = ranked.group_by([*keys, VALID_FROM], use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == table.num_rows:
        return table
    rows = last["__row_max"]
    return table.take(pc.take(rows, pc.sort_indices(rows)))  # input order kept


def timeline(stored: pa.Table, incoming: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Stored events (read from the table) and incoming ones merged into one timeline per key,
    with ``_valid_to`` and ``_is_current`` recomputed (see the module doc)."""
    stored = stored.drop_columns([c for c in (VALID_TO, IS_CURRENT) if c in stored.column_names])
    both = pa.concat_tables([stored, incoming], promote_options="permissive")
    both = last_per_event(both, keys)  # incoming after stored: the later delivery wins
    both = both.sort_by([*((k, "ascending") for k in keys), (VALID_FROM, "ascending")])
    n = both.num_rows
    starts = both[VALID_FROM].combine_chunks()
    if n:
        same = [
            pc.equal(both[k].combine_chunks().slice(1), both[k].combine_chunks().slice(0, n - 1))
            for k in keys
        ]
        same_key = same[0]
        for more in same[1:]:
            same_key = pc.and_(same_key, more)
        following = pc.if_else(same_key, starts.slice(1), pa.nulls(n - 1, STAMP_TYPE))
        nexts = pa.concat_arrays([following, pa.nulls(1, STAMP_TYPE)])
    else:
        nexts = pa.array([], STAMP_TYPE)
    deleted = pc.fill_null(both[IS_DELETED_EVENT].combine_chunks(), False)
    valid_to = pc.if_else(deleted, starts, nexts)
    current = pc.and_(pc.is_null(valid_to), pc.invert(deleted))
    return both.append_column(VALID_TO, valid_to).append_column(IS_CURRENT, current)


def changed_rows(after: pa.Table, before: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The rows of ``after`` that are new or differ from ``before``'s row of the same event."""
    if after.num_rows == 0:
        return after
    names = [*keys, VALID_FROM]
    stored = {
        tuple(row[n] for n in names): row
        for row in before.select(
            [c for c in after.column_names if c in before.column_names]
        ).to_pylist()
    }
    keep = []
    for index, row in enumerate(after.to_pylist()):
        old = stored.get(tuple(row[n] for n in names))
        if old is None or any(old.get(name) != value for name, value in row.items()):
            keep.append(index)
    return after.take(pa.array(keep, pa.int64()))


def as_of_filter(moment: object) -> pc.Expression:
    """Rows of the mirror as it was at ``moment`` (a timezone-aware datetime)."""
    at = pa.scalar(moment, STAMP_TYPE)
    started = pc.field(VALID_FROM) <= at
    open_then = pc.field(VALID_TO).is_null() | (pc.field(VALID_TO) > at)
    return started & open_then & ~pc.field(IS_DELETED_EVENT)
