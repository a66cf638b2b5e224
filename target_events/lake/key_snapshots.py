"""The key reconciliation's target side: ``_sdc_live_keys`` snapshots become tombstones.

The tap (``reconcile_deletes``) sends, after a stream's own records, every key alive in
Salesforce as records of ``_sdc_live_keys`` (``stream``, ``Id``, ``snapshot_at``), then one
closing record (``Id`` null, ``complete`` true, ``count``). The stream is never landed: its
keys are staged per named stream as Arrow arrays, a batch at a time (no Python set of millions
of strings). On the closing record, once the named stream's pending records are written (its
sink drained first), the keys its lake holds alive (``landed_keys``; only those stamped at or
before ``snapshot_at``) and not in the snapshot get a tombstone each (the key, ``IsDeleted``
true, ``_sdc_deleted_at`` and the replication key at ``snapshot_at``), fed into that stream's
sink through ``accept`` and written at once: Delta current mode deletes the rows, history mode
closes their last version, Parquet lands the tombstones as records. A snapshot without its
closing record (a killed tap), or whose count differs from the keys staged, changes nothing.

A snapshot whose records carry ``_sdc_org_id`` (the tap's ``org_id_column``) is staged per stream
and org, compared with that org's rows of the lake only, and its tombstones carry the org id:
the stream's key is ``["_sdc_org_id", "Id"]``, so Delta's merge deletes (or closes) exactly
that org's rows. A snapshot and a stream or lake that disagree on the column are refused with
one warning naming the stream, and nothing is tombstoned (``landed_keys``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.arrow import TIMESTAMP
from ..ingest.sinks import EventsSink
from ..sdk_hooks import TargetHooks
from .delta_plan import DELETED_AT, IS_DELETED
from .landed_keys import ORG_ID, NotReconcilable, alive_keys, log_skip

LIVE_KEYS = "_sdc_live_keys"


@dataclass
class Staged:
    """One stream's snapshot so far (of one org, when it names one): its keys, a batch at a time."""

    org: str | None = None
    snapshot_at: str | None = None
    keys: list[pa.Array] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(k) for k in self.keys)


class KeySnapshotSink(EventsSink):
    """Stages ``_sdc_live_keys`` records and reconciles a stream on its closing record."""

    def __init__(
        self, target: TargetHooks, stream_name: str, schema: dict, key_properties: Any
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target
        self.staged: dict[tuple[str, str | None], Staged] = {}

    def required_keys(self, key_properties: Any) -> tuple[str, ...]:
        """The closing record's Id is null: only ``stream`` is required of every record. The
        SDK still sees the SCHEMA's key, so the next object's SCHEMA (the same) keeps this sink
        and what it staged."""
        return ("stream",)

    def _buffer(self, table: pa.Table) -> None:
        """Rows in input order: keys are staged; a closing row reconciles its stream."""
        closing = (
            pc.fill_null(table["complete"], False) if "complete" in table.column_names else None
        )
        if closing is None or not pc.any(closing).as_py():
            self._stage(table)
            return
        start = 0
        for position in pc.indices_nonzero(closing).to_pylist():
            self._stage(table.slice(start, position - start))
            row = table.slice(position, 1).to_pylist()[0]
            self._close(str(row["stream"]), row.get(ORG_ID), row.get("count"))
            start = position + 1
        self._stage(table.slice(start))

    def _stage(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        table = table.filter(pc.is_valid(table["Id"]))
        for (name, org), rows in _by_stream_and_org(table):
            staged = self.staged.setdefault((name, org), Staged(org))
            snapshot_at = rows["snapshot_at"][0]
            staged.snapshot_at = snapshot_at.as_py().isoformat() if snapshot_at.is_valid else None
            staged.keys.append(pc.cast(rows["Id"], pa.string()).combine_chunks())

    def process_batch(self, context: dict) -> None:
        """Nothing is written: the keys are staged as they arrive (``_buffer``)."""
        self.intake.seal()
        self.output.dead_letters(self.judge.take_dead())

    def _close(self, stream: str, org: str | None, count: object) -> None:
        staged = self.staged.pop((stream, org), Staged(org))
        logger = self.logger
        if not isinstance(count, int) or count != staged.count:
            log_skip(
                logger,
                stream,
                f"the snapshot holds {staged.count} keys, its closing record says {count}",
            )
            return
        sink = self.target.sdk_active_sink(stream)
        if not isinstance(sink, EventsSink):
            log_skip(logger, stream, "no SCHEMA of the stream before its key snapshot")
            return
        written = reconcile(sink, staged)
        if written is not None:
            self.ledger.reconciled[stream] = self.ledger.reconciled.get(stream, 0) + written


def _by_stream_and_org(table: pa.Table) -> list[tuple[tuple[str, str | None], pa.Table]]:
    """The staged rows per (stream, org); org None when the snapshot names none."""
    groups: list[tuple[tuple[str, str | None], pa.Table]] = []
    streams = table["stream"]
    for name in pc.unique(streams).to_pylist():
        rows = table.filter(pc.equal(streams, name))
        if ORG_ID not in rows.column_names:
            groups.append(((name, None), rows))
            continue
        orgs = rows[ORG_ID]
        for org in pc.unique(orgs).to_pylist():
            same = pc.is_null(orgs) if org is None else pc.fill_null(pc.equal(orgs, org), False)
            groups.append(((name, org), rows.filter(same)))
    return groups


def reconcile(sink: EventsSink, staged: Staged) -> int | None:
    """Tombstones into ``sink`` for its keys gone from the snapshot; how many (None: skipped)."""
    stream, logger = sink.stream_name, sink.logger
    schema = sink.stream_schema.arrow
    org = staged.org
    if (org is not None) != (ORG_ID in schema.names):
        named = f"names org {org}" if org is not None else "names no org"
        has = "has" if ORG_ID in schema.names else "has no"
        log_skip(logger, stream, f"the key snapshot {named} but the stream's SCHEMA {has} {ORG_ID}")
        return None
    keys = tuple(sink.key_properties or ())
    if org is not None and ORG_ID not in keys:  # a merge on Id alone would reach every org
        log_skip(
            logger,
            stream,
            f"the key snapshot names org {org} but its key {list(keys)} has no {ORG_ID}",
        )
        return None
    keys = tuple(k for k in keys if org is None or k != ORG_ID)
    if len(keys) != 1:
        log_skip(logger, stream, f"its key {list(keys)} is not one column")
        return None
    if IS_DELETED not in schema.names and DELETED_AT not in schema.names:
        log_skip(logger, stream, f"it has neither {IS_DELETED} nor {DELETED_AT} to mark a delete")
        return None
    moment = dt.datetime.fromisoformat(str(staged.snapshot_at))
    stamp = next(iter(sink.ledger.bookmark_properties.get(stream) or ()), None)
    sink.drain()  # the stream's own records first: they may hold keys created since
    try:
        landed = alive_keys(sink.ledger, stream, keys[0], stamp, moment, org)
    except NotReconcilable as why:
        log_skip(logger, stream, str(why))
        return None
    live = pa.chunked_array(staged.keys, pa.string())
    gone = landed.filter(pc.invert(pc.is_in(landed, value_set=live.combine_chunks())))
    logger.info(
        "Key reconciliation of %s: %d keys live at the source, %d in the lake, %d gone: tombstoned",
        stream,
        staged.count,
        len(landed),
        len(gone),
    )
    if len(gone):
        sink.accept(tombstones(schema, keys[0], gone, stamp, moment, org))
        sink.drain()
    return len(gone)


def tombstones(
    schema: pa.Schema,
    key: str,
    gone: pa.Array,
    stamp: str | None,
    moment: dt.datetime,
    org: str | None = None,
) -> pa.Table:
    """One row per key gone, in the stream's schema: deleted at ``moment``, of ``org`` (when the
    snapshot names one), all else null."""
    rows = len(gone)
    columns = []
    for column in schema:
        if column.name == key:
            values = pc.cast(gone, column.type)
        elif column.name == ORG_ID and org is not None:
            values = pa.repeat(pa.scalar(org), rows).cast(column.type)
        elif column.name == IS_DELETED:
            values = pa.repeat(pa.scalar(True), rows).cast(column.type)
        elif column.name in (DELETED_AT, stamp):
            values = _moment(moment, column.type, rows)
        else:
            values = pa.nulls(rows, column.type)
        columns.append(values)
    return pa.Table.from_arrays(columns, schema=schema)


def _moment(moment: dt.datetime, kind: pa.DataType, rows: int) -> pa.Array:
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = moment.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return pa.repeat(pa.scalar(text), rows).cast(kind)
    return pa.repeat(pa.scalar(moment, TIMESTAMP), rows).cast(kind)
