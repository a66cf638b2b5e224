"""The key reconciliation's tap side: an Id-only read of an object, sent as a key snapshot.

getDeleted reaches back only as far as the Recycle Bin (~15 days) and some objects have none,
so a row deleted for good before a run asks is never heard of: its copy stays in the lake. When
``reconcile_deletes`` says it is due, after the stream's own incremental sync, the tap reads every
live Id of the object (``query``, not ``queryAll``; the stream's ``object_filters`` condition;
Bulk for large objects, through the stream's reader: paging, retries, the quota guard and
progress logging as for any read) and sends them as records of the companion stream
``_sdc_live_keys`` (``stream``, ``Id``, ``snapshot_at``), then one closing record (``Id`` null,
``complete`` true, ``count``). The target compares the keys with those the lake holds and
tombstones the keys gone (``target_events.lake.key_snapshots``); a snapshot without its closing record
(a killed or stopped run) is never acted on. ``keys_reconciled_at`` goes into the stream's STATE
only after the closing record.

With ``org_id_column`` on, every record of the snapshot (keys and closing record) carries
``_sdc_org_id``, the same id the stream's rows carry (``org_column``): the snapshot names its org,
so a target holding several orgs in one table compares it with that org's rows only and never
tombstones another org's. Off, the schema and records are as before.

The Ids go out as RECORD lines built a page at a time by Arrow kernels (``FastRecordWriter``):
an Id-only read of millions of rows must not cost a Python loop per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pyarrow as pa
from singer_sdk.singerlib import SchemaMessage

from ..discovery.org_column import OrgStamp
from ..output.writer import FastRecordWriter
from ..query.page import Page
from ..query.reader import ObjectReader, ReadSpec
from ..query.values import format_datetime
from ..run.runtime import Runtime, StreamStats

LIVE_KEYS = "_sdc_live_keys"
LIVE_KEYS_SCHEMA = {
    "type": "object",
    "properties": {
        "stream": {"type": "string"},
        "Id": {"type": ["string", "null"]},
        "snapshot_at": {"type": "string", "format": "date-time"},
        "complete": {"type": ["boolean", "null"]},
        "count": {"type": ["integer", "null"]},
    },
}


class SnapshotStream(Protocol):
    """What a key snapshot needs of its object stream (``SObjectStream``)."""

    @property
    def name(self) -> str: ...

    @property
    def runtime(self) -> Runtime: ...

    @property
    def reader(self) -> ObjectReader: ...

    @property
    def org_stamp(self) -> OrgStamp | None: ...

    def accounted(
        self, records: Iterator[Any], stats: StreamStats, *, tables: bool = False
    ) -> Iterator[Any]: ...

    def sdk_write_message(self, message: Any) -> None: ...


def id_read() -> ReadSpec:
    """Every live Id: no window, no ORDER BY on Bulk, ``query`` (deleted rows are not keys)."""
    return ReadSpec(["Id"], None, None, key=None, ordered=False, all_rows=False)


def snapshot_schema(stamp: OrgStamp | None) -> SchemaMessage:
    """The snapshot's SCHEMA: with the org column (first in its key) when the stream has one."""
    keys = ["stream", "Id"]
    if stamp is None:
        return SchemaMessage(LIVE_KEYS, LIVE_KEYS_SCHEMA, keys, bookmark_properties=None)
    schema = stamp.schema(LIVE_KEYS_SCHEMA)
    return SchemaMessage(LIVE_KEYS, schema, stamp.keys(keys), bookmark_properties=None)


def send_snapshot(stream: SnapshotStream, stats: StreamStats) -> bool:
    """Read and send the object's live keys; True once the closing record is out (False: the
    run stopped part-way, and the target discards what it staged)."""
    runtime = stream.runtime
    stamp = stream.org_stamp
    snapshot_at = format_datetime(dt.datetime.now(dt.timezone.utc))
    stream.sdk_write_message(snapshot_schema(stamp))
    writer = FastRecordWriter(LIVE_KEYS, frozenset())
    count = 0
    pages = stream.accounted(stream.reader.read_spec(id_read(), stats), stats, tables=True)
    for page in pages:
        rows = _key_rows(page, stream.name, snapshot_at)
        _write_keys(writer, stamp.table(rows) if stamp else rows)
        count += len(page)
    stats.rows -= count  # rows of the object's sync only; the keys are counted apart
    stats.live_keys = (stats.live_keys or 0) + count
    if runtime.stopped_reason:
        return False
    closing: dict[str, Any] = {"stream": stream.name, "Id": None, "snapshot_at": snapshot_at}
    closing |= {"complete": True, "count": count}
    writer.write(stamp.record(closing) if stamp else closing)
    return True


def _key_rows(page: Page, name: str, snapshot_at: str) -> pa.Table:
    ids = page.rows["Id"]
    rows = len(ids)
    return pa.table(
        {
            "stream": pa.repeat(pa.scalar(name, pa.string()), rows),
            "Id": ids,
            "snapshot_at": pa.repeat(pa.scalar(snapshot_at, pa.string()), rows),
        }
    )


def _write_keys(writer: FastRecordWriter, table: pa.Table) -> None:
    records: Callable[[pa.Table], list[dict]] = pa.Table.to_pylist
    writer.write_table(table, (), records)
