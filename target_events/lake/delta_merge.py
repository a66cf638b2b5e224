"""One batch into one Delta table (and where tables are: options, datasets): the merge, the remembered deletions, retries against other
writers, and the column rules a table keeps (a changed type refused, a dropped column nulled)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import LakeError
from .delta_plan import (
    MergePlan,
    alive_mask,
    keep_undeleted,
    latest_per_key,
    merge_clauses,
    stamp_tombstones,
    with_columns,
)

if TYPE_CHECKING:
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

TARGET_FILE_BYTES = 128 * 1024 * 1024
# Commit attempts against other writers' commits (delta-rs' optimistic concurrency).
# Commits that conflict with another writer's are tried again, up to COMMIT_TRIES times in all
# (80 s of pauses at most: bounded). Two writers committing back to back make the loser's next
# try race the winner's next batch: a long pause hands the winner that race every time (8 tries
# of 0.1-6.4 s lost to a busy writer in a test), so the first pauses are short, all jittered.
COMMIT_TRIES = 30
FIRST_PAUSE_SECONDS = 0.05
LONGEST_PAUSE_SECONDS = 3.2
LOGGER = logging.getLogger("target-events.delta")


def is_table(uri: str, options: dict[str, str]) -> bool:
    from deltalake import DeltaTable

    return bool(DeltaTable.is_deltatable(uri, storage_options=options))


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def delta_type(kind: Any) -> str:
    text = str(kind)
    return text.removeprefix('PrimitiveType("').removesuffix('")')


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


def retry_pause(tries: int) -> None:
    """The pause before try ``tries + 1`` of a conflicted commit: random, up to a limit that
    doubles from FIRST_PAUSE_SECONDS to LONGEST_PAUSE_SECONDS ("full jitter")."""
    limit = min(LONGEST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 2 ** (tries - 1))
    time.sleep(random.uniform(0, limit))


class Merger:
    """Merges batches into Delta tables with the run's storage options and writer settings."""

    def __init__(
        self, options: dict[str, str], writer: Any, configuration: dict[str, str | None]
    ) -> None:
        self.options = options
        self.writer = writer
        self.configuration = configuration  # of every table it creates

    def commit(
        self, stream: str, uri: str, attempt: Callable[[], tuple[int, int]]
    ) -> tuple[int, int]:
        """Run one commit, again on a fresh snapshot when another writer committed first
        (delta-rs' optimistic concurrency): merges are stamp-ordered, so a retry is exact."""
        from deltalake.exceptions import CommitFailedError

        for tries in range(1, COMMIT_TRIES + 1):
            try:
                return attempt()
            except LakeError:
                raise
            except CommitFailedError as error:
                if tries == COMMIT_TRIES:
                    raise LakeError(
                        f"stream '{stream}': Delta commit to {uri} conflicted with other writers"
                        f" {tries} times; nothing of this batch was committed and STATE was not"
                        f" passed on: {first_line(error)}"
                    ) from error
                LOGGER.info(
                    "Stream %s: Delta commit conflicted with another writer (try %d of %d);"
                    " retrying on a fresh snapshot",
                    stream,
                    tries,
                    COMMIT_TRIES,
                )
                retry_pause(tries)
            except Exception as error:  # delta-rs raises plain Exception for IO and cast errors
                raise LakeError(
                    f"stream '{stream}': Delta commit to {uri} failed: {type(error).__name__}: "
                    f"{first_line(error)}"
                ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def create(
        self,
        uri: str,
        schema: pa.Schema,
        configuration: dict[str, str | None] | None = None,
        commit_properties: Any = None,
    ) -> None:
        """An empty table at ``uri`` unless there is one. Writers of one stream starting
        together race to create it: the loser finds the winner's table and merges into it."""
        from deltalake import DeltaTable

        if is_table(uri, self.options):
            return
        try:
            DeltaTable.create(
                uri,
                schema=schema,
                mode="ignore",
                configuration=configuration,
                storage_options=self.options,
                commit_properties=commit_properties,
            )
        except Exception:
            if not is_table(uri, self.options):
                raise

    def merge(
        self,
        stream: str,
        uri: str,
        memory: str,
        table: pa.Table,
        plan: MergePlan,
        mark: dict[str, str] | None = None,
    ) -> tuple[int, int]:
        """Merge one batch into the table at ``uri`` (``memory``: the stream's remembered
        deletions); (table version, rows) once committed, retried against other writers.
        ``mark``: custom metadata written in the very commits that hold the rows (and in the
        CREATE of a table made for them), so a later run finds it in the table's history
        however the run that wrote them ended (``delta.STAGED_AFTER_ACTIVATION``)."""
        return self.commit(
            stream, uri, lambda: self._merge_once(stream, uri, memory, table, plan, mark)
        )

    def _merge_once(
        self,
        stream: str,
        uri: str,
        memory: str,
        table: pa.Table,
        plan: MergePlan,
        mark: dict[str, str] | None,
    ) -> tuple[int, int]:
        from deltalake import CommitProperties, DeltaTable

        marked = CommitProperties(custom_metadata=mark) if mark else None

        stamped = stamp_tombstones(table, plan)
        batch = latest_per_key(stamped, plan)
        if plan.tombstones and plan.version and plan.merges:
            batch = keep_undeleted(batch, self._deleted(memory, plan, batch.schema), plan)
        self.create(uri, batch.schema, self.configuration, marked)
        delta = DeltaTable(uri, storage_options=self.options)
        if plan.merges:
            self.widen(delta, batch.schema, [*plan.keys, plan.version], marked)
        batch = self.conform(stream, delta, batch)
        if not plan.merges:
            from deltalake import write_deltalake

            write_deltalake(
                delta,
                batch,
                mode="append",
                schema_mode="merge",
                writer_properties=self.writer,
                target_file_size=TARGET_FILE_BYTES,
                commit_properties=marked,
            )
            return delta.version(), batch.num_rows
        clauses = merge_clauses(plan)
        merger = delta.merge(
            batch,
            clauses["on"],
            source_alias="s",
            target_alias="t",
            merge_schema=True,
            writer_properties=self.writer,
            commit_properties=marked,
        )
        if clauses["delete"]:
            merger = merger.when_matched_delete(clauses["delete"])
        if clauses["update"]:
            merger = merger.when_matched_update_all(clauses["update"])
        merger.when_not_matched_insert_all(clauses["insert"]).execute()
        if plan.tombstones and plan.version:
            # After the table's commit: a kill in between re-delivers the tombstone (no STATE yet).
            # Every tombstone of the batch, not only those that won their key: a delivery in
            # many small batches must remember what one large batch remembers.
            self._remember_deleted(stream, memory, stamped, plan)
        return delta.version(), batch.num_rows

    def _deleted(self, uri: str, plan: MergePlan, schema: pa.Schema) -> pa.Table:
        """The remembered deletions (keys and newest stamp): small next to the table, read whole.
        A column the side table lacks is read as nulls typed as in ``schema`` (the batch's): it
        was written under another key (before ``org_id_column`` was on, by ``Id`` alone), and a
        deletion remembered so matches no key of the new shape, as its stored row matches none."""
        from deltalake import DeltaTable

        if not is_table(uri, self.options):
            return pa.table({})
        seen = DeltaTable(uri, storage_options=self.options).to_pyarrow_dataset()
        wanted = [name for name in (*plan.keys, plan.version) if name]
        held = seen.to_table(columns=[name for name in wanted if name in seen.schema.names])
        return with_columns(held, wanted, schema)

    def _remember_deleted(self, stream: str, uri: str, batch: pa.Table, plan: MergePlan) -> None:
        """Keys and stamps of the batch's tombstones, in a small side table (newest wins)."""
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        dead = batch.filter(pc.invert(alive_mask(batch, plan))).select([*plan.keys, plan.version])
        if dead.num_rows == 0:
            return
        v = plan.version
        newest = dead.group_by(list(plan.keys), use_threads=False).aggregate([(v, "max")])
        dead = newest.select([*plan.keys, f"{v}_max"]).rename_columns([*plan.keys, v])

        def attempt() -> tuple[int, int]:
            self.create(uri, dead.schema)
            memory = DeltaTable(uri, storage_options=self.options)
            self.widen(memory, dead.schema, dead.column_names)
            on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in plan.keys)
            (
                memory.merge(
                    dead, on, source_alias="s", target_alias="t", writer_properties=self.writer
                )
                .when_matched_update_all(
                    f"s.`{v}` IS NOT NULL AND (t.`{v}` IS NULL OR s.`{v}` > t.`{v}`)"
                )
                .when_not_matched_insert_all()
                .execute()
            )
            return 0, dead.num_rows

        self.commit(stream, uri, attempt)

    @staticmethod
    def widen(
        delta: Any, schema: pa.Schema, names: list[str | None], commit_properties: Any = None
    ) -> None:
        """Add the columns of ``names`` the table lacks (nullable, typed as in ``schema``), in a
        commit of their own before a merge reads them: its ON clause and stamp predicates name
        the table's key and stamp columns, and delta-rs refuses a merge whose ON names a column
        the table lacks (``merge_schema`` adds source columns only after it plans the merge).
        A key gains ``_sdc_org_id`` when ``org_id_column`` is turned on in a lake written
        without it; the rows stored before keep a null there. Writers adding the same column at
        once conflict (metadata changed): the loser retries and finds the column. The commit
        carries the batch's ``commit_properties`` (its run: not another writer's change)."""
        from deltalake import Schema

        stored = {f.name for f in delta.schema().fields}
        missing = [name for name in names if name and name not in stored]
        if missing:
            fields = pa.schema([schema.field(name).with_nullable(True) for name in missing])
            delta.alter.add_columns(
                Schema.from_arrow(fields).fields, commit_properties=commit_properties
            )

    @staticmethod
    def conform(stream: str, delta: Any, batch: pa.Table) -> pa.Table:
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
                    f"{delta_type(before)} to {delta_type(kind)}; the Delta table keeps "
                    f"{delta_type(before)} (replace the table with full_refresh_streams)"
                )
        missing = [name for name in stored if name not in incoming]
        if missing:
            arrow = pa.schema(delta.schema().to_arrow())
            for name in missing:
                batch = batch.append_column(
                    arrow.field(name), pa.nulls(batch.num_rows, arrow.field(name).type)
                )
        return batch
