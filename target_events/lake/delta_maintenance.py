"""After a run: compaction where small files piled up, one at a time per table, and vacuum.

delta-rs commits two ``optimize.compact`` runs made from the same snapshot: each removes the
same small files and adds its own compacted copy of their rows, so every row of them is then in
the table twice (measured: 20 rows became 40; 100 orgs finishing together doubled thousands of
rows). A merge racing a compaction is refused by its conflict check either way, so only
compactions need keeping apart. Locally that is an exclusive ``flock`` on a file in the table's
log folder (ignored by Delta readers), held while the table is loaded and compacted: a run that
finds it held skips compaction (the holder is compacting the same files), and one that comes
after loads the compacted snapshot. On S3 there is no such lock, so runs leave compaction to
``target-events compact`` run while no writer is active.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..config.settings import Settings
from .delta_merge import TARGET_FILE_BYTES

LOCK_FILE = ".target-events-compact.lock"
SMALL_FILE_BYTES = TARGET_FILE_BYTES // 4


@contextlib.contextmanager
def exclusive_compaction(uri: str, *, remote: bool) -> Iterator[bool]:
    """True while this process alone may compact the local table at ``uri``; False (nothing
    held) when another run holds it, or the table is remote."""
    if remote:
        yield False
        return
    path = Path(uri) / "_delta_log" / LOCK_FILE
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False  # another run is compacting this table now
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def maintain_table(
    uri: str, options: dict[str, str], writer: Any, settings: Settings, *, force: bool = False
) -> dict[str, Any]:
    """Compact when small files piled up (or ``force``: ``target-events compact``), one run at
    a time, then vacuum files out of the table for longer than the retention (a directory
    listing: cheap next to the merges)."""
    from deltalake import DeltaTable

    with exclusive_compaction(uri, remote=settings.is_s3) as mine:
        delta = DeltaTable(uri, storage_options=options)  # loaded after any compaction
        sizes = pa.table(delta.get_add_actions(flatten=True))["size_bytes"].to_pylist()
        small = sum(1 for size in sizes if size < SMALL_FILE_BYTES)
        done: dict[str, Any] = {"files": len(sizes), "small_files": small}
        due = small >= max(2, settings.lake_compact_after_files)
        # On S3 only the compact command compacts: it is run while no writer is active.
        allowed = mine or (force and settings.is_s3)
        if allowed and (due or (force and small > 1)):
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
