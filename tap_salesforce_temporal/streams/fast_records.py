"""RECORD lines written straight from a record dict, for streams emitted one record at a time.

The SDK's per-record path (deselected-property walk, type conformance, stream maps, a message
object and a timestamp per record) costs several times the line's own encoding. With identity
maps, no type conformance and the tap's own writer, it would emit exactly the line
``FastRecordWriter`` writes, so the mixin writes it directly; anything else keeps the SDK's path.
"""

from __future__ import annotations

from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from ..output.writer import FastRecordWriter, FastWriter, deselected_properties
from ..sdk_hooks import StreamHooks
from .base import is_identity_map


class FastRecords(StreamHooks):
    """``write_record`` for a stream whose records reach the SDK's per-record writing."""

    _fast_records_writer: FastRecordWriter | None

    @override
    def write_record(self, record: dict) -> bool:
        """Fast path for identity stream maps; anything else goes through the SDK unchanged."""
        writer = self.fast_writer()
        if writer is None:
            return False
        writer.write(record)
        return True

    def fast_writer(self) -> FastRecordWriter | None:
        """The stream's RECORD line writer (made once), or None when the SDK's line would
        differ: stream maps, flattening, type conformance, another message writer, or a
        deselected stream (its unlisted properties are dropped). It leaves out what the SDK's
        walk would, a deselected component of a compound field (``BillingAddress.street``) too."""
        try:
            return self._fast_records_writer
        except AttributeError:
            self._fast_records_writer = self._new_fast_writer()
            return self._fast_records_writer

    def _new_fast_writer(self) -> FastRecordWriter | None:
        if (
            not is_identity_map(self)
            or self.sdk_message_writer_class() is not FastWriter
            or self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE
        ):
            return None
        tree = deselected_properties(self.mask)
        if tree is None:
            return None
        drop = frozenset(name for name, inner in tree.items() if inner is None)
        nested = {name: inner for name, inner in tree.items() if inner is not None}
        return FastRecordWriter(self.name, drop, nested)
