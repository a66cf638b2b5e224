"""Delta Lake output (``format: delta``): one table per stream, each flush one atomic commit.

A flushed batch is merged into ``DEST/<stream>`` as planned by ``delta_plan`` (upsert on the key,
newer stamp wins, tombstones delete; immutable streams insert new keys only; keyless streams
append). The commit returns before the sink reports the flush, so the target passes a STATE on only
after the commit holding its rows; a killed run leaves each table at its last commit (files written
for an unfinished commit are in no log entry, invisible, and vacuumed later).

A full refresh (``full_refresh_streams``, or an ACTIVATE_VERSION message for the stream) writes the
run's rows to a staging table ``DEST/_full_refresh/<stream>`` instead, and replaces the table from
it in one overwrite commit at the end of the run; until then STATE is held back, so a refresh
killed midway is redone whole and readers never see half of it.

Small files: after a run, a table with ``lake_compact_after_files`` or more small files is
compacted (optimize) and files unreferenced for ``lake_vacuum_retention_hours`` are vacuumed.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .delta_plan import MergePlan, latest_per_key, merge_clauses
from .errors import LakeError
from .layout import safe_stream_name

if TYPE_CHECKING:
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    from .settings import Settings

LOGGER = logging.getLogger("target-events.delta")
FULL_REFRESH_DIR = "_full_refresh"
TOMBSTONE_DIR = "_tombstones"
TARGET_FILE_BYTES = 128 * 1024 * 1024
SMALL_FILE_BYTES = TARGET_FILE_BYTES // 4
CODECS = {"zstd": "ZSTD", "snappy": "SNAPPY", "gzip": "GZIP", "none": "UNCOMPRESSED"}


@dataclass(frozen=True)
class Commit:
    stream: str
    uri: str
    version: int
    rows: int


def storage_options(
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    profile: str | None = None,
) -> dict[str, str]:
    """delta-rs (object_store) options for S3; empty ones left out (the default chain applies)."""
    options = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_SESSION_TOKEN": session_token,
        "AWS_PROFILE": profile,
    }
    if endpoint_url and endpoint_url.startswith("http://"):
        options["AWS_ALLOW_HTTP"] = "true"  # settings allow plain http for loopback only
    return {k: v for k, v in options.items() if v}


def is_table(uri: str, options: dict[str, str]) -> bool:
    from deltalake import DeltaTable

    return bool(DeltaTable.is_deltatable(uri, storage_options=options))


def table_dataset(
    uri: str, options: dict[str, str], filesystem: pafs.FileSystem | None = None
) -> ds.Dataset | None:
    """The table's current snapshot as a pyarrow dataset (DuckDB scans it lazily), or None.

    ``filesystem``: Arrow's own filesystem rooted at the table. Without it delta-rs hands Arrow
    a Python filesystem handler, which Arrow's IO threads call and release: a release that
    lands while the interpreter finalizes aborts the process ("terminate called without an
    active exception"), the hazard ``tap_salesforce_temporal.query.values.arrow_owned`` names.
    """
    from deltalake import DeltaTable

    if not is_table(uri, options):
        return None
    return DeltaTable(uri, storage_options=options).to_pyarrow_dataset(filesystem=filesystem)


class DeltaLake:
    """The Delta tables one target run writes: where they live, and how a batch is committed."""

    def __init__(self, settings: Settings) -> None:
        from deltalake import WriterProperties

        self.settings = settings
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
        self.writer = WriterProperties(compression=CODECS[settings.compression])  # type: ignore[arg-type]
        self.refreshing: set[str] = set(settings.full_refresh_streams)
        self.staged: dict[str, str] = {}  # stream -> staging table of this run's full refresh
        self.written: dict[str, str] = {}  # stream -> table this run committed to

    def table_uri(self, stream: str) -> str:
        return f"{self.root}/{safe_stream_name(stream)}"

    def staging_uri(self, stream: str) -> str:
        return f"{self.root}/{FULL_REFRESH_DIR}/{safe_stream_name(stream)}"

    @property
    def holds_state(self) -> bool:
        """True while a full refresh is staged: its rows are not in the table until the end."""
        return bool(self.staged)

    def begin_full_refresh(self, stream: str) -> None:
        self.refreshing.add(stream)

    # -- writing --
    def write(self, stream: str, table: pa.Table, plan: MergePlan) -> Commit:
        """Commit one flushed batch of ``stream``; returns when the commit is durable."""
        if stream in self.refreshing and stream not in self.staged:
            self._remove_table(self.staging_uri(stream))  # a killed refresh's leftover
            self.staged[stream] = self.staging_uri(stream)
        uri = self.staged.get(stream) or self.table_uri(stream)
        try:
            version, rows = self._merge(uri, stream, table, plan)
        except LakeError:
            raise
        except Exception as error:  # delta-rs raises plain Exception for IO and cast errors
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise LakeError(
                f"stream '{stream}': Delta commit to {uri} failed: {type(error).__name__}: {first}"
            ) from error
        if uri == self.table_uri(stream):
            self.written[stream] = uri
        return Commit(stream, uri, version, rows)

    def _merge(self, uri: str, stream: str, table: pa.Table, plan: MergePlan) -> tuple[int, int]:
        from deltalake import DeltaTable

        batch = latest_per_key(table, plan)
        tombstones = f"{uri.rsplit('/', 1)[0]}/{TOMBSTONE_DIR}/{uri.rsplit('/', 1)[1]}"
        if plan.tombstones and plan.version:
            batch = self._drop_deleted(tombstones, batch, plan)
        if not is_table(uri, self.options):
            DeltaTable.create(
                uri,
                schema=batch.schema,
                configuration=self._configuration(),
                storage_options=self.options,
            )
        delta = DeltaTable(uri, storage_options=self.options)
        batch = self._conform(stream, delta, batch)
        if not plan.merges:
            from deltalake import write_deltalake

            write_deltalake(
                delta,
                batch,
                mode="append",
                schema_mode="merge",
                writer_properties=self.writer,
                target_file_size=TARGET_FILE_BYTES,
            )
            return delta.version(), batch.num_rows
        clauses = merge_clauses(plan)
        merger = delta.merge(
            batch,
            clauses["on"],  # type: ignore[arg-type]
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            writer_properties=self.writer,
        )
        if clauses["delete"]:
            merger = merger.when_matched_delete(clauses["delete"])
        if clauses["update"]:
            merger = merger.when_matched_update_all(clauses["update"])
        merger.when_not_matched_insert_all(clauses["insert"]).execute()
        if plan.tombstones and plan.version:
            # After the table's commit: a kill in between re-delivers the tombstone (no STATE yet).
            self._remember_deleted(tombstones, batch, plan)
        return delta.version(), batch.num_rows

    def _drop_deleted(self, uri: str, batch: pa.Table, plan: MergePlan) -> pa.Table:
        """Rows not newer than their key's recorded deletion: an older copy re-delivered after
        the delete (a rerun from an earlier STATE) must not bring the record back."""
        import pyarrow.compute as pc

        if batch.num_rows == 0 or not is_table(uri, self.options) or len(plan.keys) != 1:
            return batch
        from deltalake import DeltaTable

        key, version = plan.keys[0], plan.version
        # Deleted keys only: small next to the table, read whole (key and stamp columns).
        seen = DeltaTable(uri, storage_options=self.options).to_pyarrow_dataset()
        seen = seen.to_table(columns=[key, version])  # type: ignore[arg-type]
        deleted = dict(zip(seen[key].to_pylist(), seen[version].to_pylist(), strict=True))
        keep = [
            k not in deleted or (v is not None and deleted[k] is not None and v > deleted[k])
            for k, v in zip(batch[key].to_pylist(), batch[version].to_pylist(), strict=True)
        ]
        return batch.filter(pc.or_(pa.array(keep), pc.invert(self._alive(batch, plan))))

    @staticmethod
    def _alive(batch: pa.Table, plan: MergePlan) -> pa.Array:
        import pyarrow.compute as pc

        alive = pa.array([True] * batch.num_rows)
        for column in plan.tombstones:
            values = batch[column]
            dead = pc.fill_null(values, False) if column == "IsDeleted" else pc.is_valid(values)
            alive = pc.and_(alive, pc.invert(dead))
        return alive

    def _remember_deleted(self, uri: str, batch: pa.Table, plan: MergePlan) -> None:
        """Keys and stamps of the batch's tombstones, in a small side table (newest wins)."""
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        dead = batch.filter(pc.invert(self._alive(batch, plan))).select([*plan.keys, plan.version])
        if dead.num_rows == 0:
            return
        if not is_table(uri, self.options):
            DeltaTable.create(uri, schema=dead.schema, storage_options=self.options)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in plan.keys)
        v = plan.version
        (
            DeltaTable(uri, storage_options=self.options)
            .merge(dead, on, source_alias="s", target_alias="t", writer_properties=self.writer)
            .when_matched_update_all(f"s.`{v}` > t.`{v}`")
            .when_not_matched_insert_all()
            .execute()
        )

    def _configuration(self) -> dict[str, str | None]:
        """Log files kept as long as unreferenced data files: both bounded on a 15-minute schedule."""
        hours = max(1, int(self.settings.lake_vacuum_retention_hours))
        return {
            "delta.logRetentionDuration": f"interval {hours} hours",
            "delta.deletedFileRetentionDuration": f"interval {hours} hours",
        }

    @staticmethod
    def _conform(stream: str, delta: Any, batch: pa.Table) -> pa.Table:
        """New columns are added by the merge; a changed type is refused in one line; columns the
        stream no longer sends are written as nulls (the table keeps them)."""
        from deltalake import Schema

        stored = {f.name: f.type for f in delta.schema().fields}
        incoming = {f.name: f.type for f in Schema.from_arrow(batch.schema).fields}
        for name, kind in incoming.items():
            before = stored.get(name)
            if before is not None and str(before) != str(kind) and "Primitive" in repr(before):
                raise LakeError(
                    f"stream '{stream}': column '{name}' changed type from "
                    f"{_delta_type(before)} to {_delta_type(kind)}; the Delta table keeps "
                    f"{_delta_type(before)} (replace the table with full_refresh_streams)"
                )
        missing = [name for name in stored if name not in incoming]
        if missing:
            arrow = pa.schema(delta.schema().to_arrow())
            for name in missing:
                batch = batch.append_column(
                    arrow.field(name), pa.nulls(batch.num_rows, arrow.field(name).type)
                )
        return batch

    # -- end of run --
    def replace_staged(self) -> list[Commit]:
        """Replace each refreshed table from its staging table, one overwrite commit each."""
        commits = [self._replace(stream, staging) for stream, staging in self.staged.items()]
        self.staged.clear()
        return commits

    def maintain_written(self) -> None:
        """After the run: compact and vacuum the tables it wrote, where small files piled up."""
        for stream, uri in self.written.items():
            try:
                done = self.maintain(uri)
            except Exception as error:  # the data is committed: maintenance can wait a run
                LOGGER.warning("Delta maintenance of %s skipped: %s", stream, error)
                continue
            if "compacted" in done:
                LOGGER.info("Delta table %s compacted: %s", stream, done)

    def _replace(self, stream: str, staging: str) -> Commit:
        from deltalake import DeltaTable, write_deltalake

        uri = self.table_uri(stream)
        source = DeltaTable(staging, storage_options=self.options).to_pyarrow_dataset()
        reader = source.scanner().to_reader()
        exists = is_table(uri, self.options)
        write_deltalake(
            uri,
            reader,
            mode="overwrite",
            schema_mode="overwrite",
            configuration=None if exists else self._configuration(),
            storage_options=self.options,
            writer_properties=self.writer,
            target_file_size=TARGET_FILE_BYTES,
        )
        version = DeltaTable(uri, storage_options=self.options).version()
        rows = source.count_rows()
        LOGGER.info(
            "Full refresh of %s: table replaced by %d rows (version %d)", stream, rows, version
        )
        self._remove_table(staging)
        self.written[stream] = uri
        return Commit(stream, uri, version, rows)

    def maintain(self, uri: str, *, force: bool = False) -> dict[str, Any]:
        """Compact when small files piled up (or ``force``), then vacuum files out of the table
        for longer than the retention (a directory listing: cheap next to the merges)."""
        from deltalake import DeltaTable

        delta = DeltaTable(uri, storage_options=self.options)
        sizes = pa.table(delta.get_add_actions(flatten=True))["size_bytes"].to_pylist()
        small = sum(1 for size in sizes if size < SMALL_FILE_BYTES)
        done: dict[str, Any] = {"files": len(sizes), "small_files": small}
        if small >= max(2, self.settings.lake_compact_after_files) or (force and small > 1):
            metrics = delta.optimize.compact(
                target_size=TARGET_FILE_BYTES, writer_properties=self.writer
            )
            done["compacted"] = metrics.get("numFilesRemoved", 0)
        if done["files"]:  # merges leave rewritten files behind too: vacuum after every run
            removed = delta.vacuum(
                retention_hours=int(self.settings.lake_vacuum_retention_hours),
                dry_run=False,
                enforce_retention_duration=False,
            )
            done["vacuumed"] = len(removed)
        return done

    def _remove_table(self, uri: str) -> None:
        if not self.settings.is_s3:
            shutil.rmtree(uri, ignore_errors=True)
            return
        import pyarrow.fs as pafs

        filesystem = self._s3_filesystem()
        path = uri.removeprefix("s3://")
        if filesystem.get_file_info(path).type != pafs.FileType.NotFound:
            filesystem.delete_dir(path)

    def _s3_filesystem(self) -> pafs.FileSystem:
        from .report.source import S3Options, open_filesystem

        filesystem, _ = open_filesystem(
            self.settings.destination,
            S3Options(
                self.settings.s3_endpoint_url,
                self.settings.aws_region,
                self.settings.aws_access_key_id,
                self.settings.aws_secret_access_key,
                self.settings.aws_session_token,
            ),
        )
        return filesystem

    def dataset(self, stream: str) -> ds.Dataset | None:
        """The stream's table through Arrow's own filesystem (see ``table_dataset``)."""
        import pyarrow.fs as pafs

        uri = self.table_uri(stream)
        if self.settings.is_s3:
            rooted = pafs.SubTreeFileSystem(uri.removeprefix("s3://"), self._s3_filesystem())
        else:
            rooted = pafs.SubTreeFileSystem(uri, pafs.LocalFileSystem())
        return table_dataset(uri, self.options, rooted)


def _delta_type(kind: Any) -> str:
    text = str(kind)
    return text.removeprefix('PrimitiveType("').removesuffix('")')
