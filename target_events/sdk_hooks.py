"""Every singer-sdk private name the target overrides, calls or reads, in one module.

singer-sdk has no public hook for what the target needs (its own config check that never quotes a
secret, records validated and buffered without the SDK's per-record path, STATE passed on only
after durable writes, staging removed however the run ends). Each override here is a thin
``@override`` that hands over to a public method of the target's own classes, so the rest of the
code never touches an SDK private name. ``SDK_PRIVATE_NAMES`` lists every private method used,
overridden or called, ``SDK_PRIVATE_IMPORTS`` the private modules imported and
``SDK_PRIVATE_TARGET_ATTRIBUTES`` the private attributes read; ``tests/unit/
test_target_sdk_hooks.py`` checks each one still exists on the pinned SDK (``singer-sdk~=0.54.9``)
and that no other module of the target uses an SDK private name.
"""

from __future__ import annotations

import typing as t
from collections.abc import Sequence

from singer_sdk import Target
from singer_sdk.helpers._batch import BaseBatchFileEncoding
from singer_sdk.sinks import BatchSink, Sink
from typing_extensions import override

if t.TYPE_CHECKING:
    from .run.ledger import RunLedger

# (SDK class, private name, parameter names after self): overridden or called by this module.
SDK_PRIVATE_NAMES: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (Target, "_validate_config", ("raise_errors",)),
    (Target, "_handle_termination", ("signum", "frame")),
    (Target, "_process_schema_message", ("message_dict",)),
    (Target, "_process_record_message", ("message_dict",)),
    (Target, "_process_state_message", ("message_dict",)),
    (Target, "_process_activate_version_message", ("message_dict",)),
    (Target, "_process_batch_message", ("message_dict",)),
    (Target, "_handle_max_record_age", ()),
    (Target, "_write_state_message", ("state",)),
    (BatchSink, "_validate_and_parse", ("record",)),
    (BatchSink, "_singer_validate_message", ("record",)),
    (BatchSink, "_remove_sdc_metadata_from_schema", ()),
    (BatchSink, "_remove_sdc_metadata_from_record", ("record",)),
)
# (private module, name) imported here.
SDK_PRIVATE_IMPORTS: tuple[tuple[str, str], ...] = (
    ("singer_sdk.helpers._batch", "BaseBatchFileEncoding"),
)
# Private attributes of a target instance read here.
SDK_PRIVATE_TARGET_ATTRIBUTES = (
    "_config",
    "_sinks_active",
    "_sinks_to_clear",
    "_latest_state",
    "_last_full_drain_at",
)

BatchEncoding = BaseBatchFileEncoding


def batch_encoding(value: dict) -> BatchEncoding:
    """A BATCH message's ``encoding`` as the SDK parses it (format, compression)."""
    return BaseBatchFileEncoding.from_dict(value)


class TargetHooks(Target):
    """The SDK's private target hooks, each handed to a public method of ``TargetEvents``."""

    # What a sink needs of its target (``sinks.EventsSink``): set by the subclass.
    ledger: RunLedger

    # -- what subclasses provide --
    def validate_settings(self, config: dict, *, raise_errors: bool) -> list[str]:
        """Check ``config`` (the settings as given); the SDK's check by default."""
        return super()._validate_config(raise_errors=raise_errors)

    def on_termination(self, signum: int) -> None:
        """SIGINT or SIGTERM arrived (the SDK's handler would drain and exit 0)."""
        raise SystemExit(128 + signum)

    def on_schema_message(self, message: dict) -> None:
        self.sdk_process_schema(message)

    def on_record_message(self, message: dict) -> None:
        self.sdk_process_record(message)

    def on_state_message(self, message: dict) -> None:
        self.sdk_process_state(message)

    def on_activate_version_message(self, message: dict) -> None:
        self.sdk_process_activate_version(message)

    def on_batch_message(self, message: dict) -> None:
        self.sdk_process_batch(message)

    def after_records(self) -> None:
        """Called after records were buffered: the flush policy (the SDK's: by record age)."""
        Target._handle_max_record_age(self)

    def emit_state(self, state: dict) -> None:
        """A STATE every record before which is written (the SDK prints it as JSON)."""
        Target._write_state_message(self, state)

    def sink_added(self, stream_name: str, sink: Sink) -> None:
        """A new sink for ``stream_name`` (its first SCHEMA, or a changed one)."""

    def listen_ended(self) -> None:
        """``listen`` is over, however it ended (an exception included)."""

    # -- calls into the SDK's private methods and attributes --
    def sdk_process_schema(self, message: dict) -> None:
        Target._process_schema_message(self, message)

    def sdk_process_record(self, message: dict) -> None:
        Target._process_record_message(self, message)

    def sdk_process_state(self, message: dict) -> None:
        Target._process_state_message(self, message)

    def sdk_process_activate_version(self, message: dict) -> None:
        Target._process_activate_version_message(self, message)

    def sdk_process_batch(self, message: dict) -> None:
        Target._process_batch_message(self, message)

    def sdk_pass_state_when_idle(self) -> None:
        """Pass the latest STATE on now if no sink holds a record: every record before it is
        already durable. The SDK holds it until the next drain, which a tap that sends a batch
        and then waits (a trickle, a shard in lock step) may not cause for a long time."""
        sinks = [*self._sinks_to_clear, *self._sinks_active.values()]
        if self._latest_state and not any(sink.current_size for sink in sinks):
            self._write_state_message(self._latest_state)

    @property
    def sdk_config(self) -> dict:
        """The settings as given, before any check (``config`` is only set once they pass)."""
        return self._config

    def sdk_active_sink(self, stream_name: str) -> Sink | None:
        """The sink that takes ``stream_name``'s records now (an alias's, for a stream map)."""
        return self._sinks_active.get(stream_name)

    @property
    def sdk_last_full_drain_at(self) -> float:
        """When every sink was last drained (``time.time()``)."""
        return self._last_full_drain_at

    # -- the overrides --
    # Target.listen is @final in singer-sdk, yet it is the one call that spans a whole run
    # (every line, then the end of the pipe) for the SDK's CLI, its test runners and ours: the
    # run's staging folder must go however it ends, and nothing else wraps both parts. mypy
    # refuses any override of a final method, hence the ignore.
    @override  # type: ignore[misc]
    def listen(self, file_input: t.IO[str] | None = None) -> None:
        try:
            super().listen(file_input)
        finally:
            self.listen_ended()

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: Sequence[str] | None = None,
    ) -> Sink:
        """``Target.add_sink`` (final) is only called from here: a sink not active before is new."""
        before = self._sinks_active.get(stream_name)
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        if sink is not before:
            self.sink_added(stream_name, sink)
        return sink

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        return self.validate_settings(self._config, raise_errors=raise_errors)

    @override
    def _handle_termination(self, signum: int, frame: t.Any) -> None:
        self.on_termination(signum)

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        self.on_schema_message(message_dict)

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        self.on_record_message(message_dict)

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        self.on_state_message(message_dict)

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.on_activate_version_message(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        self.on_batch_message(message_dict)

    @override
    def _handle_max_record_age(self) -> None:
        self.after_records()

    @override
    def _write_state_message(self, state: dict) -> None:
        self.emit_state(state)


class SinkHooks(BatchSink):
    """The SDK's private sink hooks: records are checked by ``check_record`` (the SDK's generic
    validation never runs), and declared ``_sdc_*`` columns are data, kept."""

    def check_record(self, record: dict, line: int | None) -> dict:
        """Check one decoded record (``line``: its input line; None: the reader's current one).
        The SDK's validation by default."""
        return BatchSink._validate_and_parse(self, record)

    @override
    def _validate_and_parse(self, record: dict) -> dict:
        return self.check_record(record, None)

    @override
    def _singer_validate_message(self, record: dict) -> None:
        """Key properties are checked by ``check_record``, where on_invalid_record applies."""

    @override
    def _remove_sdc_metadata_from_schema(self) -> None:
        """Keep declared ``_sdc_*`` columns: the SDK drops them when ``add_record_metadata`` is
        off, and with them ``_sdc_deleted_at``, the only tombstone mark some taps send."""

    @override
    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        """Likewise for records: a declared ``_sdc_*`` value is data (see above)."""
