"""Every singer-sdk private method this tap overrides or calls, in one module.

singer-sdk has no public hook for what the tap needs most (writing a page of records at once,
its own Parquet BATCH files, a bookmark computed only when STATE goes out, a config check that
never quotes a secret). Each override here is a thin ``@override`` that hands over to a public
method of the tap's own classes, so the rest of the code never touches an SDK private name:
the SDK classes the tap needs from private modules (``BatchConfig``...) are imported here and
re-exported, private attributes are read through ``sdk_*`` methods. ``SDK_PRIVATE_NAMES`` lists
every private name used, overridden or called; a test checks each one still exists on the
pinned SDK (``singer-sdk~=0.54.9``) with the parameters used here, and that no other module of
the tap uses a private SDK name.
"""

from __future__ import annotations

import typing as t
from collections.abc import Generator, Iterator

from singer_sdk import Stream, Tap
from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig, SDKBatchMessage
from singer_sdk.helpers.types import Context
from singer_sdk.singerlib import Catalog, MetadataMapping, RecordMessage
from typing_extensions import override

from .discovery.org_column import OrgStamp

# Public in all but module name: the SDK's BATCH configuration and message.
__all__ = ["BaseBatchFileEncoding", "BatchConfig", "SDKBatchMessage", "StreamHooks", "TapHooks"]

# (SDK class, private name, parameter names after self): overridden or called by this module.
SDK_PRIVATE_NAMES: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (Stream, "_increment_stream_state", ("latest_record", "context")),
    (Stream, "_write_state_message", ()),
    (Stream, "_finalize_state", ("state",)),
    (Stream, "_write_record_message", ("record",)),
    (Stream, "_sync_records", ("context", "write_messages")),
    (Stream, "_sync_batches", ("batch_config", "context")),
    (Stream, "_generate_record_messages", ("record",)),
    (Stream, "_process_record", ("record", "child_context", "partition_context")),
    (Stream, "_write_starting_replication_value", ("context",)),
    (Stream, "_write_schema_message", ()),
    (Tap, "_validate_config", ("raise_errors",)),
    (Tap, "_reset_state_progress_markers", ()),
    (Tap, "_set_compatible_replication_methods", ()),
    (Tap, "_handle_termination", ("signum", "frame")),
)
# Private attributes of a stream instance read or written here.
SDK_PRIVATE_ATTRIBUTES = ("_tap", "_metadata", "_schema", "_input_schema")
# Private attributes of a tap instance read here.
SDK_PRIVATE_TAP_ATTRIBUTES = ("_state_writer", "_config")


class StreamHooks(Stream):
    """The SDK's private stream hooks, each handed to a public method of ``IncrementalStream``.

    ``records_carry_partition_keys``: the SDK copies a partition's keys into each record; a stream
    whose partition key is not a column (micro_decision_events) turns it off.
    """

    records_carry_partition_keys: t.ClassVar[bool] = True
    # The org id on every row (``org_column``; the tap sets it when ``org_id_column`` is on).
    org_stamp: OrgStamp | None = None

    def stamp_org(self, stamp: OrgStamp) -> None:
        """From now on this stream's schema, key and rows carry the org id."""
        self.org_stamp = stamp
        self._schema = stamp.schema(self.schema)
        self.primary_keys = stamp.keys(self.primary_keys or ())

    # -- what subclasses provide --
    def remember_bookmark(self, record: dict, context: Context | None) -> None:
        """Called for every record (or page) the SDK counts as written."""
        self.sdk_increment_stream_state(record, context)

    def settle_bookmark(self) -> None:
        """Called before STATE goes out and before a partition is finalized."""

    def write_record(self, record: dict) -> bool:
        """Write one RECORD line the fast way; False leaves it to the SDK."""
        return False

    def sync_own_records(self, context: Context | None, write_messages: bool) -> bool:
        """Run the whole record sync without the SDK's per-record loop; False: use the SDK's."""
        return False

    def sync_own_batches(self, batch_config: BatchConfig, context: Context | None) -> bool:
        """Run the whole BATCH sync; False: the SDK's loop over ``get_batches``
        (``record_batches.RecordBatches``: files of what RECORD mode would write)."""
        return False

    def after_sync(self) -> None:
        """Called by the tap's scheduler once the stream's whole sync is over and its STATE out
        (``Stream.sync`` is final): work that must follow every row of the stream."""

    # -- calls into the SDK's private methods --
    def sdk_increment_stream_state(self, record: dict, context: Context | None) -> None:
        Stream._increment_stream_state(self, record, context=context)

    def sdk_write_state(self) -> None:
        self._write_state_message()

    def sdk_finalize_state(self) -> None:
        """The stream's state finalized (progress markers promoted), as its sync ends."""
        self._finalize_state(self.stream_state)

    def sdk_start_replication_value(self, context: Context | None) -> None:
        self._write_starting_replication_value(context)

    def sdk_write_schema(self) -> None:
        self._write_schema_message()

    def sdk_write_record(self, record: dict) -> None:
        """One record through this stream's maps and writer, outside its own sync."""
        self._write_record_message(record)

    def sdk_tap_stream(self, name: str) -> Stream | None:
        """Another stream of the same tap (None when the tap has no such stream)."""
        return self._tap.streams.get(name)

    def sdk_tap_streams(self) -> t.Iterable[Stream]:
        """Every stream of the same tap."""
        return self._tap.streams.values()

    def sdk_message_writer_class(self) -> type:
        """The tap's Singer message writer."""
        return self._tap.message_writer_class

    def sdk_cached_metadata(self) -> MetadataMapping | None:
        """The stream's metadata once the SDK has built it (None: not yet)."""
        return self._metadata

    def sdk_write_message(self, message: t.Any) -> None:
        self._tap.write_message(message)

    def sdk_sync_records(self, context: Context | None, write_messages: bool) -> Iterator[dict]:
        """The SDK's own record loop, whatever ``sync_own_records`` decides."""
        return Stream._sync_records(self, context, write_messages=write_messages)

    def sdk_record_messages(self, record: dict) -> Iterator[RecordMessage]:
        """The RECORD messages the SDK writes for ``record``: deselected properties removed
        (``record`` in place), types conformed, one message per stream map that keeps it."""
        if self.org_stamp is not None:
            self.org_stamp.record(record)
        return self._generate_record_messages(record)

    def sdk_mark_unflushed(self) -> None:
        self.state_manager.is_flushed = False

    # -- the overrides --
    @override
    def _increment_stream_state(
        self, latest_record: dict, *, context: Context | None = None
    ) -> None:
        self.remember_bookmark(latest_record, context)

    @override
    def _write_state_message(self) -> None:
        self.settle_bookmark()
        super()._write_state_message()

    @override
    def _finalize_state(self, state: dict | None = None) -> None:
        self.settle_bookmark()
        super()._finalize_state(state)

    @override
    def apply_catalog(self, catalog: Catalog) -> None:
        """An input catalog's key and schema (one discovered without ``org_id_column``) get
        the org id too."""
        super().apply_catalog(catalog)
        if self.org_stamp is not None:
            self.primary_keys = self.org_stamp.keys(self.primary_keys or ())
            if self._input_schema is not None:
                self._input_schema = self.org_stamp.schema(self._input_schema)

    @override
    def _write_record_message(self, record: dict) -> None:
        if self.org_stamp is not None:
            self.org_stamp.record(record)
        if self.write_record(record):
            self.sdk_mark_unflushed()
            return
        super()._write_record_message(record)

    @override
    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> Generator[dict, None, None]:
        if self.sync_own_records(context, write_messages):
            return
        yield from super()._sync_records(context, write_messages=write_messages)

    @override
    def _sync_batches(self, batch_config: BatchConfig, context: Context | None = None) -> None:
        if not self.sync_own_batches(batch_config, context):
            super()._sync_batches(batch_config, context=context)

    @override
    def _process_record(
        self,
        record: dict,
        child_context: Context | None = None,
        partition_context: Context | None = None,
    ) -> None:
        if self.records_carry_partition_keys:
            super()._process_record(
                record, child_context=child_context, partition_context=partition_context
            )


class TapHooks(Tap):
    """The SDK's private tap hooks: the config check, and what ``Tap.sync_all`` does before
    its loop over the streams (the tap runs its own loop: streams side by side)."""

    def validate_settings(self, *, raise_errors: bool) -> list[str]:
        return super()._validate_config(raise_errors=raise_errors)

    def sdk_config(self) -> dict:
        """The config dict itself (``config`` is a read-only view of it), while it is checked."""
        return self._config

    def sync_streams(self) -> None:
        """The whole sync, run in place of ``Tap.sync_all`` (the tap's loop)."""
        raise NotImplementedError

    # Tap.sync_all is @final in singer-sdk, yet it is what the SDK's CLI (Tap.invoke) and its test
    # runners call, and its loop syncs one stream after another: the tap replaces it with
    # sync_streams, here only. mypy refuses any override of a final method, hence the ignore.
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        self.sync_streams()

    def sdk_begin_sync(self) -> list[Stream]:
        """``Tap.sync_all`` up to its stream loop; the streams that loop would sync, in order."""
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        if self.state:
            self._state_writer.write_state(self.state)
        streams = []
        for stream in self.streams.values():
            if not stream.selected and not stream.has_selected_descendents:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
            elif not stream.parent_stream_type:  # children are synced by their parents
                streams.append(stream)
        return streams

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        return self.validate_settings(raise_errors=raise_errors)

    def on_termination(self, signum: int) -> None:
        """SIGINT or SIGTERM arrived (the SDK's handler would exit 0 on the spot)."""
        raise SystemExit(128 + signum)

    @override
    def _handle_termination(self, signum: int, frame: t.Any) -> None:
        self.on_termination(signum)
