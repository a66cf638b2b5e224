"""A flushed batch becomes durable output: deduplicated, split by partition, one file per
partition (or one Delta commit), each recorded in the run ledger; invalid records set aside go
to a dead-letter file the same durable way."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from ..config.settings import Partitioning
from ..ingest.arrow import StreamSchema
from ..lake.delta_plan import MergePlan
from ..run.ledger import FileEntry, RunLedger
from ..store.layout import partition_values, render_key, safe_stream_name
from .writers import write_file

if TYPE_CHECKING:
    from ..lake.delta import Commit


def dedup_last(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """Keep the last row per key within the batch (later rows are newer versions).

    A row with a null in any dedup field has no key: it is kept, never merged with another
    (group_by would put all nulls in one group and keep one of them).
    """
    rows = pa.array(range(table.num_rows), type=pa.int64())
    keyless = pc.is_null(table[keys[0]])
    for name in keys[1:]:
        keyless = pc.or_(keyless, pc.is_null(table[name]))
    keyed = table.select(list(keys)).append_column("__row", rows).filter(pc.invert(keyless))
    last = keyed.group_by(list(keys), use_threads=False).aggregate([("__row", "max")])
    kept = pa.concat_arrays(
        [last["__row_max"].combine_chunks(), rows.filter(keyless.combine_chunks())]
    )
    if len(kept) == table.num_rows:
        return table
    return table.take(kept.take(pc.sort_indices(kept)))  # input order


def split_partitions(
    table: pa.Table, partitioning: Partitioning | None
) -> list[tuple[str, pa.Table]]:
    """(Hive partition path, rows) per partition value; one part when unpartitioned."""
    if not partitioning or table.num_rows == 0:
        return [("", table)]
    values = partition_values(table[partitioning.field], partitioning)
    order = pc.sort_indices(values)
    table, values = table.take(order), values.take(order)
    parts, offset = [], 0
    for entry in pc.value_counts(values).to_pylist():
        count = entry["counts"]
        parts.append((entry["values"], table.slice(offset, count)))
        offset += count
    return parts


class StreamOutput:
    """Where one stream's flushed batches go, through the run ledger."""

    def __init__(
        self,
        ledger: RunLedger,
        stream: str,
        schema: StreamSchema,
        keys: Sequence[str],
        partitioning: Partitioning | None,
        logger: logging.Logger,
        *,
        dedup_key: Sequence[str] | None = None,
    ) -> None:
        self.ledger = ledger
        self.stream = stream
        self.schema = schema
        self.keys = tuple(keys)
        self.partitioning = partitioning
        self.logger = logger
        self.dedup_key = tuple(dedup_key or ())

    def land(self, table: pa.Table, plan: MergePlan, version: int | None) -> int:
        """A flushed batch: deduplicated (``dedup_key``), observed for the QA check, then written
        (or merged into Delta) at most ``max_batch_rows`` rows a file or commit. Returns how many
        duplicate rows were merged away."""
        merged = 0
        if self.dedup_key:
            deduped = dedup_last(table, self.dedup_key)
            merged = table.num_rows - deduped.num_rows
            table = deduped
        self.ledger.quality.observe(self.stream, table, self.keys)
        size = self.ledger.settings.max_batch_rows
        for offset in range(0, max(table.num_rows, 1), size):
            part = table.slice(offset, size)
            if self.ledger.settings.format == "delta":
                self.commit_delta(part, plan, version)
            else:
                self.write(part)
        return merged

    def write(self, table: pa.Table) -> None:
        """One file per partition, each visible only once complete."""
        for partition, part in split_partitions(table, self.partitioning):
            self._write_file(part, partition)

    def _write_file(self, table: pa.Table, partition: str) -> None:
        ledger, settings = self.ledger, self.ledger.settings
        key = render_key(
            settings.key_template,
            stream=self.stream,
            partition=partition,
            run_id=ledger.run_id,
            seq=ledger.next_seq(self.stream),
            ext=settings.extension,
        )
        uri, size = ledger.storage.put(
            key,
            lambda path: write_file(
                table,
                path,
                fmt=settings.format,
                compression=settings.compression,
                unique=self.keys[0] if len(self.keys) == 1 else None,
            ),
            f".{settings.extension}",
        )
        low = high = None
        if self.partitioning and table.num_rows:
            bounds = pc.min_max(table[self.partitioning.field]).as_py()
            low = None if bounds["min"] is None else str(bounds["min"])
            high = None if bounds["max"] is None else str(bounds["max"])
        ledger.files.append(
            FileEntry(
                key,
                uri,
                self.stream,
                table.num_rows,
                size,
                partition,
                self.schema.fingerprint,
                low,
                high,
            )
        )
        self.logger.info(
            "Wrote %d rows of %s to %s (%d bytes)", table.num_rows, self.stream, uri, size
        )

    def commit_delta(self, table: pa.Table, plan: MergePlan, version: int | None) -> None:
        """Merge the batch into the stream's Delta table (or its full-table version's staging
        table); durable when this returns."""
        self.record_commit(self.ledger.lake.write(self.stream, table, plan, version), plan.mode)

    def record_commit(self, commit: Commit, how: str) -> None:
        """A Delta commit of this stream, in the run's ledger and the log."""
        table_key = commit.uri.removeprefix(f"{self.ledger.lake.root}/")
        key = f"{table_key}/_delta_log/{commit.version:020d}.json"
        self.ledger.files.append(
            FileEntry(key, commit.uri, self.stream, commit.rows, 0, "", self.schema.fingerprint)
        )
        self.logger.info(
            "Committed %d rows of %s to %s (version %d, %s)",
            commit.rows,
            self.stream,
            commit.uri,
            commit.version,
            how,
        )

    def dead_letters(self, rows: list[dict]) -> None:
        """Invalid records set aside (on_invalid_record: dead_letter), as durable as data."""
        if not rows:
            return
        ledger, name = self.ledger, safe_stream_name(self.stream)
        key = f"_dead_letter/{name}/{name}-{ledger.run_id}-{ledger.next_seq('_dead_letter')}.jsonl"
        payload = "".join(json.dumps(row, default=str) + "\n" for row in rows)
        ledger.storage.put(key, lambda path: path.write_text(payload), ".jsonl")
        self.logger.warning(
            "Wrote %d invalid records of %s to the dead-letter file %s", len(rows), self.stream, key
        )
