"""RECORD lines written straight from a record dict, for streams emitted one record at a time.

The SDK's per-record path (deselected-property walk, type conformance, stream maps, a message
object and a timestamp per record) costs several times the line's own encoding. With identity
maps, no type conformance and the tap's own writer, it would emit exactly the line
``FastRecordWriter`` writes, so the mixin writes it directly; anything else keeps the SDK's path.
"""

from __future__ import annotations

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from ..sdk_hooks import StreamHooks
from ..writer import FastRecordWriter, FastWriter, deselected_properties
from .base import is_identity_map


class FastRecords(StreamHooks):
    """``write_record`` for a stream whose records reach the SDK's ``_write_record_message``."""

    _fast_records_writer: FastRecordWriter | None

    @override
    def write_record(self, record: dict) -> bool:
        """Fast path for identity stream maps; anything else goes through the SDK unchanged."""
        try:
            writer = self._fast_records_writer
        except AttributeError:
            writer = self._fast_records_writer = self._new_fast_writer()
        if writer is None:
            return False
        writer.write(record)
        return True

    def _new_fast_writer(self) -> FastRecordWriter | None:
        """None when the SDK's line would differ: stream maps, flattening, type conformance,
        another message writer, or a deselected stream (its unlisted properties are dropped)."""
        if (
            not is_identity_map(self)
            or self._tap.message_writer_class is not FastWriter
            or self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE
        ):
            return None
        tree = deselected_properties(self.mask)
        if tree is None:
            return None
        drop = frozenset(name for name, inner in tree.items() if inner is None)
        nested = {name: inner for name, inner in tree.items() if inner is not None}
        return FastRecordWriter(self.name, drop, nested)
