"""Delta Lake output (``format: delta``): one table per stream, each flush one atomic commit.

A flushed batch is merged into ``DEST/<stream>`` as planned by ``delta_plan`` (upsert on the key,
newer stamp wins, tombstones delete; immutable streams insert new keys only; keyless streams
append). The commit returns before the sink reports the flush, so the target passes a STATE on only
after the commit holding its rows; a killed run leaves each table at its last commit (files written
for an unfinished commit are in no log entry, invisible, and vacuumed later). A commit that loses
a race with another writer is retried on the new snapshot (merges are stamp-ordered: exact).

Full refreshes (ACTIVATE_VERSION, ``full_refresh_streams``): rows of a version are staged in a
durable table of their own and replace the table in one overwrite commit (``delta_versions`` has
the rule for every message order). A replacement refuses, in one line, rather than drop data that
another writer committed to the table during the refresh.

Small files: after a run, a table with ``lake_compact_after_files`` or more small files is
compacted (optimize) and files unreferenced for ``lake_vacuum_retention_hours`` are vacuumed;
locally every file and folder of a table is private (0600/0700). History mode: delta_history.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.dataset as ds

from ..errors import LakeError
from ..store.layout import refuse_links, safe_stream_name
from ..store.staging import private_files
from .delta_files import LakeFiles
from .delta_history import activate_history, merge_history
from .delta_maintenance import maintain_table
from .delta_merge import (
    COMMIT_TRIES,
    TARGET_FILE_BYTES,
    Merger,
    first_line,
    is_table,
    retry_pause,
    storage_options,
    table_dataset,
)
from .delta_plan import MergePlan
from .delta_versions import VERSIONS_DIR, RunVersions, run_version, version_name

if TYPE_CHECKING:
    from ..config.settings import Settings

LOGGER = logging.getLogger("target-events.delta")
TOMBSTONE_DIR = "_tombstones"
# A staging table of another version is removed once untouched this long: a run still filling
# it commits every flush, far more often.
STAGING_GRACE_HOURS = 24.0
MAINTENANCE = ("OPTIMIZE", "VACUUM START", "VACUUM END")  # commits that change no data
NO_DATA = (*MAINTENANCE, "CREATE TABLE")  # an empty table another writer's merge created
# Commit metadata of rows staged for a version already activated (see _staged_after_activation).
MARK_KEY = "targetEvents.stagedAfterActivation"
STAGED_AFTER_ACTIVATION = {MARK_KEY: "true"}
NO_PLAN = MergePlan("upsert", ())  # a history stream without rows this run
RUN_KEY = "targetEvents.runId"  # commit metadata: the run that made the commit
CODECS: dict[str, Literal["ZSTD", "SNAPPY", "GZIP", "UNCOMPRESSED"]] = {
    "zstd": "ZSTD",
    "snappy": "SNAPPY",
    "gzip": "GZIP",
    "none": "UNCOMPRESSED",
}


class _Raced(Exception):
    """A replacement's commit lost a race with another writer's: try again on the new snapshot."""


@dataclass(frozen=True)
class Commit:
    stream: str
    uri: str
    version: int
    rows: int


class DeltaLake:
    """The Delta tables one target run writes: where they live, and how a batch is committed."""

    def __init__(self, settings: Settings, run_id: str = "") -> None:
        from deltalake import WriterProperties

        self.settings = settings
        self.files = LakeFiles(settings)
        self.run_id = run_id
        root = settings.destination.rstrip("/")
        self.root = root if settings.is_s3 else str(Path(root).expanduser().resolve())
        self.options = (
            storage_options(
                settings.s3_endpoint_url,
                settings.aws_region,
                settings.aws_access_key_id,
                settings.aws_secret_access_key,
                settings.aws_session_token,
                settings.aws_profile,
            )
            if settings.is_s3
            else {}
        )
        self.writer = WriterProperties(compression=CODECS[settings.compression])
        self.merger = Merger(self.options, self.writer, self._configuration())
        self.versions = RunVersions()
        self.staging_commits: dict[str, int] = {}  # staging uri -> commits this run made to it
        self.written: dict[str, str] = {}  # stream -> table this run committed to
        self.history_plans: dict[str, MergePlan | None] = {}  # lake_mode history streams

    # -- where tables live --
    def table_uri(self, stream: str) -> str:
        return self._uri(safe_stream_name(stream))

    def staging_uri(self, stream: str, version: str) -> str:
        return self._uri(f"{VERSIONS_DIR}/{safe_stream_name(stream)}/{safe_stream_name(version)}")

    def tombstones_uri(self, stream: str) -> str:
        return self._uri(f"{TOMBSTONE_DIR}/{safe_stream_name(stream)}")

    def _uri(self, relative: str) -> str:
        """``root/relative``; locally no folder on the way may be a symlink (delta-rs would
        follow it and write the table outside the destination)."""
        if not self.settings.is_s3:
            refuse_links(Path(self.root), relative)
        return f"{self.root}/{relative}"

    @property
    def holds_state(self) -> bool:
        """True while a full refresh is owed: its rows are not in the table until the end."""
        return self.versions.holds_state

    def _live_version(self, stream: str) -> int | None:
        from deltalake import DeltaTable

        uri = self.table_uri(stream)
        return (
            DeltaTable(uri, storage_options=self.options).version()
            if is_table(uri, self.options)
            else None
        )

    # -- writing --
    def write(
        self, stream: str, table: pa.Table, plan: MergePlan, version: int | None = None
    ) -> Commit:
        """Commit one flushed batch of ``stream`` (to its table, or to its version's staging
        table: see ``delta_versions``); returns when the commit is durable."""
        versions = self.versions
        if stream in self.settings.full_refresh_streams and stream not in versions.implied:
            versions.begin_refresh(stream, run_version(self.run_id), self._live_version(stream))
        staged = versions.version_of(stream, version)
        if self.settings.history(stream):  # None: a stream history mode leaves as it is
            self.history_plans[stream] = plan if plan.mode == "upsert" else None
        uri = self.table_uri(stream) if staged is None else self.staging_uri(stream, staged)
        if staged is not None and self.staging_commits.get(uri) and not is_table(uri, self.options):
            raise LakeError(
                f"stream '{stream}': the staging table {uri} of version {staged} was removed while"
                " this run was writing it; rerun the refresh"
            )
        if staged is not None and versions.begins(stream, staged):
            versions.began(stream, staged, self._live_version(stream))  # before staging: exact
        # Rows of a version already activated (the singer-sdk order) carry a mark in their commit.
        # Every commit names its run: a refresh refuses only another run's changes, not its own
        # rows merged before it (bare RECORDs, then a version's: one writer, nothing to lose).
        mark = {RUN_KEY: self.run_id or "-"}
        if staged and versions.activated.get(stream) == staged:
            mark.update(STAGED_AFTER_ACTIVATION)
        with private_files():
            if self.history_plans.get(stream) and staged is None:
                version_after, rows = merge_history(self.merger, stream, uri, table, plan, mark)
            else:
                version_after, rows = self.merger.merge(
                    stream, uri, self.tombstones_uri(stream), table, plan, mark
                )
        if staged is None:
            self.written[stream] = uri
        else:
            self.staging_commits[uri] = self.staging_commits.get(uri, 0) + 1
            versions.staged(stream, staged)
        return Commit(stream, uri, version_after, rows)

    def activate(self, stream: str, version: int) -> Commit | None:
        """ACTIVATE_VERSION: replace the table by the version's rows now, or owe it (see
        ``delta_versions``); the sink drained the stream's earlier rows first."""
        name = version_name(version)
        staging = self.staging_uri(stream, name)
        now = self.versions.activate(
            stream,
            version,
            rows_staged=is_table(staging, self.options),
            redone=self._staged_after_activation(staging),
            base=self._live_version(stream),
        )
        if not now:
            return None
        commit = self._replace(stream, name, self.versions.base_of(stream, name))
        self.versions.replaced(stream, commit.version)
        return commit

    def _staged_after_activation(self, staging: str) -> bool:
        """True when rows of the staging table's version were staged after an ACTIVATE_VERSION
        of it (marked commits): the singer-sdk order, its run killed before the replacement,
        the refresh now re-sent; they are part of it only, so the replacement waits for the
        rest (the end of the run) rather than show half of the refresh."""
        from deltalake import DeltaTable

        if not is_table(staging, self.options):
            return False
        history = DeltaTable(staging, storage_options=self.options).history()
        return any(MARK_KEY in entry for entry in history)

    def _configuration(self) -> dict[str, str | None]:
        """Log files kept as long as unreferenced data files (whole minutes, never less)."""
        minutes = math.ceil(self.settings.lake_vacuum_retention_hours * 60)
        return {
            "delta.logRetentionDuration": f"interval {minutes} minutes",
            "delta.deletedFileRetentionDuration": f"interval {minutes} minutes",
        }

    # -- replacing a table by a version --
    def replace_owed(self) -> list[Commit]:
        """End of the run: each owed full refresh replaces its table, one overwrite commit each."""
        commits = []
        for stream, owed in list(self.versions.owed.items()):
            commits.append(self._replace(stream, owed.version, owed.base))
            self.versions.replaced(stream, commits[-1].version)
        return commits

    def _replace(self, stream: str, version: str, base: int | None) -> Commit:
        """The table becomes exactly the staged rows of ``version`` (none: empty), in one
        overwrite commit. It refuses, rather than drop rows another writer may have acknowledged,
        when another writer changed the table's data since ``base`` (this run's refresh began;
        None: there was no table). A commit that loses a race is tried again on the new snapshot,
        whose check then refuses unless the winner only compacted or vacuumed."""
        uri, staging = self.table_uri(stream), self.staging_uri(stream, version)
        if self.settings.history(stream) and self.history_plans.get(stream, NO_PLAN) is not None:
            plan, mark = self.history_plans.get(stream), {RUN_KEY: self.run_id or "-"}
            done = activate_history(self.merger, stream, uri, staging, plan, mark)
            self._remove_old_staging(stream, keep=version)
            return Commit(stream, uri, *done)
        if self.staging_commits.get(staging) and not is_table(staging, self.options):
            raise LakeError(
                f"stream '{stream}': the staging table {staging} was removed before its refresh"
                " replaced the table; the table is left as it was; rerun the refresh"
            )
        for tries in range(1, COMMIT_TRIES + 1):
            try:
                return self._overwrite(stream, version, base)
            except _Raced as error:
                if tries == COMMIT_TRIES:
                    raise LakeError(
                        f"stream '{stream}': another writer committed to {uri} while its full"
                        " refresh was replacing it; the table is left as it was; rerun the"
                        f" refresh: {first_line(error)}"
                    ) from error
                retry_pause(tries)
        raise AssertionError("unreachable")  # pragma: no cover

    def _overwrite(self, stream: str, version: str, base: int | None) -> Commit:
        """One attempt of ``_replace``. The overwrite has a predicate (``true``): delta-rs then
        checks it against every commit since its snapshot, so a data commit landing after the
        check below makes it fail (a plain overwrite keeps files appended meanwhile: a mix)."""
        from deltalake import CommitProperties, DeltaTable, write_deltalake

        own = CommitProperties(custom_metadata={RUN_KEY: self.run_id or "-"})
        from deltalake.exceptions import CommitFailedError

        uri, staging = self.table_uri(stream), self.staging_uri(stream, version)
        exists = is_table(uri, self.options)
        live = DeltaTable(uri, storage_options=self.options) if exists else None
        if live is not None:
            self._refuse_concurrent_change(stream, live, base)
        if is_table(staging, self.options):
            source = DeltaTable(staging, storage_options=self.options).to_pyarrow_dataset()
        elif live is not None:
            source = ds.dataset(pa.schema(live.schema().to_arrow()).empty_table())
        else:
            return Commit(stream, uri, -1, 0)  # no rows and no table: nothing to replace
        rows = source.count_rows()
        with private_files():
            try:
                if live is not None:
                    write_deltalake(
                        live,
                        source.scanner().to_reader(),
                        mode="overwrite",
                        predicate="true",
                        schema_mode="overwrite",
                        writer_properties=self.writer,
                        target_file_size=TARGET_FILE_BYTES,
                        commit_properties=own,
                    )
                else:  # no table yet: create it, or fail if another writer just did (retried)
                    write_deltalake(
                        uri,
                        source.scanner().to_reader(),
                        mode="error",
                        configuration=self._configuration(),
                        storage_options=self.options,
                        writer_properties=self.writer,
                        target_file_size=TARGET_FILE_BYTES,
                        commit_properties=own,
                    )
            except CommitFailedError as error:
                raise _Raced(first_line(error)) from error
            except Exception as error:
                if not exists and is_table(uri, self.options):
                    raise _Raced(first_line(error)) from error
                raise LakeError(
                    f"stream '{stream}': full refresh of {uri} failed: {type(error).__name__}: "
                    f"{first_line(error)}"
                ) from error
        after = live.version() if live is not None else 0
        message = "Full refresh of %s: table replaced by %d rows of version %s (version %d)"
        LOGGER.info(message, stream, rows, version, after)
        self.written[stream] = uri
        self._remove_old_staging(stream, keep=version)
        return Commit(stream, uri, after, rows)

    def _refuse_concurrent_change(self, stream: str, live: Any, base: int | None) -> None:
        """A data commit since ``base`` (None: the table did not exist, so its every commit)."""
        since = -1 if base is None else base
        if live.version() <= since:
            return
        for entry in live.history(live.version() - since):
            own = self.run_id and entry.get(RUN_KEY) == self.run_id
            if (
                entry.get("version", 0) > since
                and entry.get("operation") not in NO_DATA
                and not own
            ):
                raise LakeError(
                    f"stream '{stream}': another writer committed to {self.table_uri(stream)}"
                    f" during this run's full refresh (version {entry.get('version')},"
                    f" {entry.get('operation')}); the table is left as it was, its rows are kept"
                    " staged, and no STATE after the refresh was passed on: rerun the refresh"
                )

    def _remove_old_staging(self, stream: str, keep: str) -> None:
        """Staging tables of this stream's other versions, untouched for STAGING_GRACE_HOURS
        (a live run commits far more often), and this run's own run-version table."""
        parent = self.staging_uri(stream, keep).rsplit("/", 1)[0]
        if keep.startswith("run-"):
            self.files.remove_table(self.staging_uri(stream, keep))
        cutoff = time.time() - STAGING_GRACE_HOURS * 3600
        for name, touched in self.files.children(parent):
            if name != safe_stream_name(keep) and touched < cutoff:
                self.files.remove_table(f"{parent}/{name}")

    def maintain_written(self) -> None:
        """After the run: compact and vacuum the tables it wrote, where small files piled up."""
        for stream, uri in self.written.items():
            try:
                with private_files():
                    done = self.maintain(uri)
            except Exception as error:  # the data is committed: maintenance can wait a run
                LOGGER.warning("Delta maintenance of %s skipped: %s", stream, error)
                continue
            if "compacted" in done:
                LOGGER.info("Delta table %s compacted: %s", stream, done)

    def maintain(self, uri: str, *, force: bool = False) -> dict[str, Any]:
        """Compact where small files piled up, then vacuum (``delta_maintenance``)."""
        client = self.s3_client if self.settings.is_s3 else None
        return maintain_table(
            uri, self.options, self.writer, self.settings, force=force, client=client
        )

    @cached_property
    def s3_client(self) -> Any:
        """On S3: one boto3 client for every table's compaction lease in this run (a client
        per table would resolve the credentials and open connections again each time)."""
        from ..store.storage import s3_client

        return s3_client(self.settings)

    def dataset(self, stream: str) -> ds.Dataset | None:
        """The stream's table through Arrow's own filesystem (see ``table_dataset``)."""
        import pyarrow.fs as pafs

        uri = self.table_uri(stream)
        if self.settings.is_s3:
            rooted = pafs.SubTreeFileSystem(uri.removeprefix("s3://"), self.files.s3())
        else:
            rooted = pafs.SubTreeFileSystem(uri, pafs.LocalFileSystem())
        return table_dataset(uri, self.options, rooted)
