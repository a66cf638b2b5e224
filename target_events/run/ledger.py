"""The run ledger: what one target run shares between its sinks and its end-of-run work.

A sink needs the run's id and sequence numbers (object keys), its storage, its Delta tables, its
quality observations and the list of files written; the target needs the same list for the
manifest. They all live here, handed to every sink, so no sink reaches back into the target and
``target.py`` and ``sinks.py`` do not import each other.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from ..config.settings import Settings
from ..store.storage import Storage, open_storage
from .quality import QualityCheck
from .run_kind import LoadKinds

if TYPE_CHECKING:
    from ..lake.delta import DeltaLake


@dataclass
class FileEntry:
    """One file (or Delta commit) the run made durable, as the manifest lists it."""

    key: str
    uri: str
    stream: str
    rows: int
    bytes: int
    partition: str
    schema_fingerprint: str
    min_value: str | None = None
    max_value: str | None = None


def new_run_id() -> str:
    """Sortable by time (manifests are compared newest first), unique across concurrent runs."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class RunLedger:
    """One run's shared state; storage, quality check and Delta tables open on first use."""

    settings: Settings
    logger: logging.Logger
    # The input line being handled (the reader's count): per-record errors name it.
    input_line: Callable[[], int] = lambda: 0
    run_id: str = field(default_factory=new_run_id)
    files: list[FileEntry] = field(default_factory=list)
    invalid_records: int = 0
    # A sink wrote a batch since the last STATE went out: time to drain all and pass it on.
    flushed_since_state: bool = False
    load_kinds: LoadKinds = field(default_factory=LoadKinds)
    bookmark_properties: dict[str, list[str]] = field(default_factory=dict)
    # Key reconciliation (``key_snapshots``): tombstones written per stream this run.
    reconciled: dict[str, int] = field(default_factory=dict)
    _seq: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def next_seq(self, name: str) -> int:
        """The next sequence number of a stream's files (or of dead-letter files)."""
        self._seq[name] += 1
        return self._seq[name]

    @cached_property
    def storage(self) -> Storage:
        return open_storage(self.settings, self.run_id)

    @cached_property
    def quality(self) -> QualityCheck:
        return QualityCheck(
            self.settings.qa_mode,
            self.settings.qa_max_row_drift,
            workdir=self.storage.staging / "qa",
            tables=self.lake.dataset if self.settings.format == "delta" else None,
        )

    @cached_property
    def lake(self) -> DeltaLake:
        """format delta: the run's Delta tables (target_events/lake/delta.py)."""
        from ..lake.delta import DeltaLake

        return DeltaLake(self.settings, self.run_id)

    def opened(self, name: str) -> bool:
        """Whether ``storage``, ``quality`` or ``lake`` was opened (closing never opens one)."""
        return name in self.__dict__

    def close(self) -> None:
        """The quality check's spill files, then the staging folder: however the run ended."""
        if self.opened("quality"):
            self.quality.close()
        if self.opened("storage"):
            self.storage.close()
