"""After a run: compaction where small files piled up, one at a time per table, and vacuum.

Compactions of one table never run at once (``compaction_lock``: delta-rs would commit two made
from one snapshot and double their rows); a run that finds the table's lock held skips
compaction, on local disk and on S3 alike.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..config.settings import Settings
from .compaction_lock import local_compaction_lock, s3_compaction_lease
from .delta_merge import TARGET_FILE_BYTES

SMALL_FILE_BYTES = TARGET_FILE_BYTES // 4


@contextlib.contextmanager
def exclusive_compaction(uri: str, settings: Settings, client: Any = None) -> Iterator[bool]:
    """True while this run alone may compact the table at ``uri``; ``client``: the run's boto3
    S3 client (on S3; one is made when not given)."""
    if not settings.is_s3:
        with local_compaction_lock(uri) as mine:
            yield mine
        return
    if client is None:
        from ..store.storage import s3_client

        client = s3_client(settings)
    with s3_compaction_lease(client, uri) as mine:
        yield mine


def maintain_table(
    uri: str,
    options: dict[str, str],
    writer: Any,
    settings: Settings,
    *,
    force: bool = False,
    client: Any = None,
) -> dict[str, Any]:
    """Compact when small files piled up (or ``force``: ``target-events compact``), one run at
    a time, then vacuum files out of the table for longer than the retention (a directory
    listing: cheap next to the merges)."""
    from deltalake import DeltaTable

    with exclusive_compaction(uri, settings, client) as mine:
        delta = DeltaTable(uri, storage_options=options)  # loaded after any compaction
        sizes = pa.table(delta.get_add_actions(flatten=True))["size_bytes"].to_pylist()
        small = sum(1 for size in sizes if size < SMALL_FILE_BYTES)
        done: dict[str, Any] = {"files": len(sizes), "small_files": small}
        due = small >= max(2, settings.lake_compact_after_files)
        if mine and (due or (force and small > 1)):
            metrics = delta.optimize.compact(
                target_size=TARGET_FILE_BYTES, writer_properties=writer
            )
            done["compacted"] = metrics.get("numFilesRemoved", 0)
    if done["files"]:  # merges leave rewritten files behind too: vacuum after every run
        removed = delta.vacuum(
            retention_hours=math.ceil(settings.lake_vacuum_retention_hours),
            dry_run=False,
            enforce_retention_duration=False,
        )
        done["vacuumed"] = len(removed)
    return done
