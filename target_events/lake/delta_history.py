"""One batch into a history table (``lake_mode: history``): read the batch keys' stored events,
recompute their timeline (``history_plan``), and commit only the rows that changed, in one
merge on key and ``_valid_from`` carrying the run's id. Nothing changed (a re-delivered copy):
no commit. The same batch merged again gives the same rows, so a rerun after a kill is exact."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import LakeError
from .delta_merge import Merger, is_table, table_dataset
from .delta_plan import MergePlan, stamp_tombstones
from .history_plan import (
    IS_CURRENT,
    STAMP_TYPE,
    VALID_FROM,
    HistoryError,
    as_of_filter,
    changed_rows,
    events,
    timeline,
    tombstones,
)


def _plain(kind: pa.DataType) -> pa.DataType:
    return pa.string() if kind == pa.string_view() else kind


def _stored(delta: Any, batch: pa.Table, plan: MergePlan, full: bool) -> pa.Table:
    """The stored events of the batch's keys (filtered on the first key column, then exact);
    ``full``: every stored event."""
    keys = plan.keys
    first = keys[0]
    # Read whole, then filtered: a pushed-down filter on delta-rs' string_view columns fails
    # in pyarrow's statistics pruning (string vs string_view). Costs a scan per batch.
    rows = delta.to_pyarrow_dataset().to_table()
    kinds = {f.name: f.type for f in batch.schema}  # back to the batch's types: events compare
    plain = [f.with_type(kinds.get(f.name, _plain(f.type))) for f in rows.schema]
    rows = rows.cast(pa.schema(plain))
    if full:
        return rows
    rows = rows.filter(pc.is_in(rows[first], value_set=pc.unique(batch[first].combine_chunks())))
    if len(keys) == 1 or rows.num_rows == 0:
        return rows
    # Joined on the keys and a row number only: Arrow's hash join refuses struct columns
    # (compound fields such as BillingAddress) among the non-key fields.
    ids = batch.select(list(keys)).group_by(list(keys)).aggregate([])
    numbered = rows.select(list(keys)).append_column("__row", pa.array(range(rows.num_rows)))
    held = numbered.join(ids, keys=list(keys), join_type="left semi", use_threads=False)
    return rows.take(held["__row"].combine_chunks().sort())  # in the stored order


def _closing(stored: pa.Table, batch: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """Delete events, now, for the keys current in ``stored`` that ``batch`` does not hold."""
    if stored.num_rows == 0:
        return batch.schema.empty_table()
    current = stored.filter(pc.field(IS_CURRENT)).select(list(keys))
    held = batch.select(list(keys)).group_by(list(keys)).aggregate([])
    gone = current.join(held, keys=list(keys), join_type="left anti", use_threads=False)
    return tombstones(gone, pa.scalar(datetime.now(timezone.utc), STAMP_TYPE))


def merge_history(
    merger: Merger,
    stream: str,
    uri: str,
    table: pa.Table,
    plan: MergePlan,
    mark: dict[str, str],
    *,
    full: bool = False,
) -> tuple[int, int]:
    """Merge one batch into the history table at ``uri``: (table version, rows written).
    ``full``: the batch is a whole full-table version (ACTIVATE_VERSION): every current key it
    does not hold is closed now, by a delete event at the activation time."""
    from deltalake import CommitProperties, DeltaTable

    try:
        batch = events(stamp_tombstones(table, plan), plan)
    except HistoryError as error:
        raise LakeError(f"stream '{stream}': {error}") from error
    marked = CommitProperties(custom_metadata=mark)

    def attempt() -> tuple[int, int]:
        exists = is_table(uri, merger.options)
        delta = DeltaTable(uri, storage_options=merger.options) if exists else None
        if delta is not None:
            # A key column the table lacks (org_id_column turned on over a lake written
            # without it) is added first: the stored events are read and merged by the key.
            merger.widen(delta, batch.schema, [*plan.keys, plan.version], marked)
        stored = batch.schema.empty_table() if delta is None else _stored(delta, batch, plan, full)
        incoming = batch
        if full:
            closing = _closing(stored, batch, plan.keys)
            incoming = pa.concat_tables([batch, closing], promote_options="permissive")
        rows = timeline(stored, incoming, plan.keys)
        changed = changed_rows(rows, stored, plan.keys)
        if changed.num_rows == 0:
            version = DeltaTable(uri, storage_options=merger.options).version() if exists else -1
            return version, 0
        merger.create(uri, changed.schema, merger.configuration, marked)
        delta = DeltaTable(uri, storage_options=merger.options)
        changed = merger.conform(stream, delta, changed)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in (*plan.keys, VALID_FROM))
        (
            delta.merge(
                changed,
                on,
                source_alias="s",
                target_alias="t",
                merge_schema=True,
                writer_properties=merger.writer,
                commit_properties=marked,
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        return delta.version(), changed.num_rows

    return merger.commit(stream, uri, attempt)


def as_of(uri: str, moment: datetime, storage_options: dict[str, str] | None = None) -> pa.Table:
    """The mirror of a history table as it was at ``moment`` (timezone-aware): one row per key
    alive then, its version of then. Empty when there is no table."""
    local = None
    if "://" not in uri:  # Arrow's own filesystem: see table_dataset (an abort at exit)
        import pyarrow.fs as pafs

        local = pafs.SubTreeFileSystem(uri, pafs.LocalFileSystem())
    dataset = table_dataset(uri, storage_options or {}, local)
    if dataset is None:
        return pa.table({})
    return dataset.to_table(filter=as_of_filter(moment))


def activate_history(
    merger: Merger,
    stream: str,
    uri: str,
    staging: str,
    plan: MergePlan | None,
    mark: dict[str, str],
) -> tuple[int, int]:
    """ACTIVATE_VERSION of a history table: the version's staged rows merged as events, and
    every current key they do not hold closed now (the table is never replaced: that would
    drop the history). No rows of the stream this run (``plan`` None): nothing is known."""
    from deltalake import DeltaTable

    if plan is None:
        return -1, 0
    staged = (
        DeltaTable(staging, storage_options=merger.options).to_pyarrow_table()
        if is_table(staging, merger.options)
        else pa.table({c: pa.array([], STAMP_TYPE) for c in (*plan.keys, plan.version or "")})
    )
    staged = staged.cast(pa.schema([f.with_type(_plain(f.type)) for f in staged.schema]))
    return merge_history(merger, stream, uri, staged, plan, mark, full=True)
