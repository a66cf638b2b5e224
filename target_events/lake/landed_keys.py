"""The keys a stream's lake holds alive, for the key reconciliation (``key_snapshots``).

- ``format: delta``: the keys of the table's rows (current mode deletes a key's row; history
  mode: its current rows, ``_is_current``; a deleted key has none).
- ``format: parquet``: the stream's files read back (its folder under ``{stream}/``), the
  latest landed version of each key by its stamp; a key whose latest version is a tombstone
  (``IsDeleted`` or ``_sdc_deleted_at``, as landed by getDeleted or an earlier reconciliation)
  is not alive. JSONL and CSV files keep values as text without a typed stamp to order versions
  by, so they are not reconciled (a warning says so).

Only keys whose stamp is at or before the snapshot's start count: a key created after the
snapshot began is not in it, and must never be tombstoned.

A snapshot naming its org (the tap's ``org_id_column``: ``_sdc_org_id`` on every key) is compared
with that org's rows only, so a lake shared by several orgs never loses another org's rows. The
two must agree: a snapshot naming an org against a lake without the column, or one naming none
against a lake holding the column (rows of several orgs, perhaps), is not reconciled at all
rather than guessed at (Parquet files landed before the column was on hold no org's rows).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import operator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..ingest.arrow import TIMESTAMP
from ..run.ledger import RunLedger
from ..store.layout import safe_stream_name
from .delta_plan import DELETED_AT, IS_DELETED
from .history_plan import IS_CURRENT

LANDED = pa.schema([("key", pa.string()), ("stamp", TIMESTAMP)])
# The tap's ``org_id_column``: the id of the org a row (or a key snapshot) came from.
ORG_ID = "_sdc_org_id"


class NotReconcilable(Exception):
    """The stream's lake cannot say which keys it holds; the message says why."""


def alive_keys(
    ledger: RunLedger,
    stream: str,
    key: str,
    stamp: str | None,
    until: dt.datetime,
    org: str | None = None,
) -> pa.Array:
    """The keys alive in ``stream``'s lake whose latest stamp is at or before ``until``; with
    ``org``, of that org's rows only."""
    fmt = ledger.settings.format
    if fmt == "delta":
        table = _delta_rows(ledger, stream, key, stamp, org)
    elif fmt == "parquet":
        table = _latest_alive(_parquet_rows(ledger, stream, key, stamp, org))
    else:
        raise NotReconcilable(f"format {fmt} keeps values as text, with no typed stamp")
    if stamp is None:
        return table["key"].combine_chunks()
    stamps = pc.cast(table["stamp"], TIMESTAMP)
    early = pc.fill_null(pc.less_equal(stamps, pa.scalar(until, TIMESTAMP)), True)
    return table.filter(early)["key"].combine_chunks()


def _delta_rows(
    ledger: RunLedger, stream: str, key: str, stamp: str | None, org: str | None
) -> pa.Table:
    dataset = ledger.lake.dataset(stream)
    if dataset is None:
        return LANDED.empty_table()
    names = dataset.schema.names
    _check_org(org, ORG_ID in names, "its Delta table")
    wanted = [pc.field(IS_CURRENT)] if IS_CURRENT in names else []
    if org is not None:
        # Cast: the table's files may hold the column as string or string_view (delta-rs).
        wanted.append(pc.field(ORG_ID).cast(pa.string()) == org)
    columns = [key] + ([stamp] if stamp and stamp in names else [])
    condition = functools.reduce(operator.and_, wanted) if wanted else None
    table = dataset.to_table(columns=columns, filter=condition)
    return _as_landed(table, key, stamp)


def _check_org(org: str | None, has_column: bool, where: str) -> None:
    """A snapshot and a lake that disagree on naming the org: never reconciled."""
    if org is not None and not has_column:
        raise NotReconcilable(f"the key snapshot names org {org} but {where} has no {ORG_ID}")
    if org is None and has_column:
        raise NotReconcilable(
            f"the key snapshot names no org but {where} has {ORG_ID} (rows of several orgs?)"
        )


def _parquet_rows(
    ledger: RunLedger, stream: str, key: str, stamp: str | None, org: str | None
) -> pa.Table:
    """Every landed version of every key (of ``org``'s rows): (key, stamp, dead)."""
    template = ledger.settings.key_template
    if not template.startswith("{stream}/"):
        raise NotReconcilable("its files can be found only with a key_template under {stream}/")
    parts = []
    storage = ledger.storage
    files = with_org = 0
    for name in storage.list_keys(safe_stream_name(stream)):
        if not name.endswith(".parquet"):
            continue
        file = pq.ParquetFile(io.BytesIO(storage.read_bytes(name)))
        names = file.schema_arrow.names
        files += 1
        if ORG_ID in names:
            with_org += 1
            _check_org(org, True, "its files")
        elif org is not None:
            continue  # landed before the column was on: no org's rows
        wanted = [c for c in (key, stamp, IS_DELETED, DELETED_AT, ORG_ID) if c and c in names]
        rows = file.read(columns=wanted)
        if org is not None:
            rows = rows.filter(pc.equal(rows[ORG_ID], org))
        dead = pa.array([False] * rows.num_rows, pa.bool_())
        if IS_DELETED in rows.column_names:
            dead = pc.or_(dead, pc.fill_null(rows[IS_DELETED], False))
        if DELETED_AT in rows.column_names:
            dead = pc.or_(dead, pc.is_valid(rows[DELETED_AT]))
        parts.append(_as_landed(rows, key, stamp).append_column("dead", dead))
    if files:
        _check_org(org, bool(with_org), "its files")
    if not parts:
        return LANDED.append(pa.field("dead", pa.bool_())).empty_table()
    return pa.concat_tables(parts)


def _latest_alive(versions: pa.Table) -> pa.Table:
    """Each key's latest version by stamp (a tombstone wins a tie), kept when not a tombstone."""
    if not versions.num_rows:
        return LANDED.empty_table()
    ordered = versions.sort_by(
        [("key", "ascending"), ("stamp", "ascending"), ("dead", "ascending")]
    )
    keys = ordered["key"].combine_chunks()
    last = pc.not_equal(keys[1:], keys[:-1]) if len(keys) > 1 else pa.array([], pa.bool_())
    is_last = pa.concat_arrays(
        [last.combine_chunks() if isinstance(last, pa.ChunkedArray) else last, pa.array([True])]
    )
    latest = ordered.filter(is_last)
    return latest.filter(pc.invert(latest["dead"])).select(["key", "stamp"])


def _as_landed(table: pa.Table, key: str, stamp: str | None) -> pa.Table:
    keys = pc.cast(table[key], pa.string())
    if stamp and stamp in table.column_names:
        stamps = pc.cast(table[stamp], TIMESTAMP)
    else:
        stamps = pa.nulls(table.num_rows, TIMESTAMP)
    return pa.table({"key": keys, "stamp": stamps})


def log_skip(logger: logging.Logger, stream: str, why: str) -> None:
    logger.warning("Key reconciliation of %s skipped: %s", stream, why)
