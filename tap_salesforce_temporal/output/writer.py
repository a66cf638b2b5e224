"""A Singer message writer that serialises with msgspec and flushes only where it matters.

The SDK's writers flush stdout after every message, which costs more than the serialisation at
tens of thousands of records per second. Flushing on STATE (and SCHEMA/BATCH) keeps the one
guarantee that matters: a STATE line never reaches the target before the records it covers.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import io
import sys
import time
import typing as t
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import msgspec
import pyarrow as pa
from singer_sdk.io_base import GenericSingerWriter
from singer_sdk.singerlib import Message, SingerMessageType

from .record_lines import Compound, record_lines

_encoder = msgspec.json.Encoder(decimal_format="number")
# A page's lines are built this many rows at a time: the text of a whole 50,000-row page and its
# per-column pieces would add ~100 MB to the tap's peak for no speed.
LINES_PER_SLICE = 10_000
# stdout's buffer: every write of whole lines at most this long goes through it (``_whole_lines``).
STDOUT_BUFFER = 1 << 16
# Deselected properties inside objects: name -> None (drop it) or the tree to apply inside its value.
DropTree = dict[str, "DropTree | None"]
_raw: object = None
_buffered: t.Any = None


def stdout() -> t.Any:
    """A buffered binary stdout, even under ``PYTHONUNBUFFERED`` / ``python -u``.

    Unbuffered, every RECORD line costs a write(2): measured at a quarter of the tap's time.
    Every writer of this module shares this one buffer, so message order is kept; it is flushed
    on each STATE/SCHEMA/BATCH message and at exit. Re-evaluated when ``sys.stdout`` is swapped
    (in-process test harnesses capture it).
    """
    global _raw, _buffered
    raw = sys.stdout.buffer
    if raw is not _raw:
        _raw = raw
        _buffered = (
            io.BufferedWriter(raw, buffer_size=STDOUT_BUFFER) if isinstance(raw, io.FileIO) else raw
        )
        if _buffered is not raw:
            atexit.register(_flush_quietly, _buffered)
    return _buffered


def _flush_quietly(buffer: io.BufferedWriter) -> None:
    with contextlib.suppress(ValueError, OSError):
        buffer.flush()


class FastWriter(GenericSingerWriter[bytes, Message]):
    def serialize_message(self, message: Message) -> bytes:
        return _encoder.encode(message.to_dict()) + b"\n"

    def write_message(self, message: Message) -> None:
        out = stdout()
        out.write(self.serialize_message(message))
        if message.type != SingerMessageType.RECORD:
            out.flush()


class FastRecordWriter:
    """Writes RECORD lines straight from a stream, skipping the SDK's per-record message objects.

    Used only when the stream's maps are the identity (no stream maps, no flattening): then the
    SDK would emit exactly this line, only slower. ``time_extracted`` is refreshed once a second.
    """

    def __init__(
        self, stream_name: str, drop: frozenset[str], nested: Mapping[str, DropTree] | None = None
    ) -> None:
        self._prefix = b'{"type":"RECORD","stream":' + _encoder.encode(stream_name) + b',"record":'
        self._drop = drop
        self._nested = dict(nested or {})
        self._stamp_second = -1.0
        self._stamp = b""
        self._out = stdout()

    def write(self, record: dict) -> None:
        for name in self._drop:
            record.pop(name, None)
        if self._nested:
            drop_nested(record, self._nested)
        self._out.write(self._prefix + _encoder.encode(record) + self._time_extracted())

    def write_table(
        self,
        table: pa.Table,
        compounds: Sequence[Compound],
        records: Callable[[pa.Table], Iterable[dict]],
    ) -> None:
        """A page of record values, written a slice at a time; a slice with a column only the
        per-record path can write (``record_lines`` declines it) goes through ``records``."""
        stamp = self._time_extracted()
        for offset in range(0, table.num_rows, LINES_PER_SLICE):
            part = table.slice(offset, LINES_PER_SLICE)
            lines = None
            if not self._nested:  # nested drops (a compound's component) go record by record
                lines = record_lines(part, self._prefix, stamp, compounds, self._drop)
            if lines is not None:
                for piece in _whole_lines(lines):
                    self._out.write(piece)
                continue
            for record in records(part):
                self.write(record)

    def _time_extracted(self) -> bytes:
        now = time.time()
        if int(now) != self._stamp_second:
            self._stamp_second = int(now)
            moment = dt.datetime.fromtimestamp(now, dt.timezone.utc)
            self._stamp = (
                b',"time_extracted":'
                + _encoder.encode(moment.isoformat().replace("+00:00", "Z"))
                + b"}\n"
            )
        return self._stamp


def _whole_lines(lines: memoryview) -> Iterator[memoryview]:
    """``lines`` in pieces of whole lines, each at most a buffer long (a longer line alone).

    A page's lines written at once would go around stdout's buffer, straight to the pipe, and
    a signal arriving part-way (Ctrl-C, SIGTERM: the run stops with ``Interrupted`` on the
    thread writing, when streams run one after another) drops the rest of that write: a line
    cut in half, which a target refuses. Written a buffer at a time, the lines pass through
    the buffer, and what a signal leaves in it is whole lines, flushed at exit.
    """
    data = bytes(lines)
    size, start = len(data), 0
    while start < size:
        end = start + STDOUT_BUFFER
        if end < size:
            cut = data.rfind(b"\n", start, end)
            end = cut + 1 if cut >= 0 else data.index(b"\n", end) + 1
        yield memoryview(data)[start:end]
        start = end


def deselected_properties(mask: Mapping[tuple[str, ...], bool]) -> DropTree | None:
    """What the SDK's ``pop_deselected_record_properties`` removes from every record, as a tree.

    The SDK looks each record key up in the stream's selection mask, a breadcrumb absent from it
    taking its parent's value, and recurses into selected object values. So only breadcrumbs the
    mask marks False under selected parents remove anything. None when the stream itself is not
    selected: every unlisted key would then be dropped, a case left to the SDK.
    """
    if not mask[()]:
        return None
    tree: DropTree = {}
    for breadcrumb, selected in mask.items():
        if selected or not _is_property_path(breadcrumb):
            continue
        if not all(mask[breadcrumb[:end]] for end in range(2, len(breadcrumb), 2)):
            continue  # an enclosing property is dropped whole
        node = tree
        for name in breadcrumb[1:-2:2]:
            child = node.get(name)  # never a dropped leaf: every enclosing property is selected
            if child is None:
                child = node[name] = {}
            node = child
        node[breadcrumb[-1]] = None
    return tree


def _is_property_path(breadcrumb: tuple[str, ...]) -> bool:
    """``("properties", a, "properties", b, ...)``: the only breadcrumbs the SDK's walk reads."""
    return (
        len(breadcrumb) >= 2
        and len(breadcrumb) % 2 == 0
        and all(part == "properties" for part in breadcrumb[::2])
    )


def drop_nested(record: dict, tree: Mapping[str, DropTree | None]) -> None:
    """Remove ``tree``'s deselected properties from ``record`` in place (its key order is kept)."""
    for name, inner in tree.items():
        if inner is None:
            record.pop(name, None)
        else:
            value = record.get(name)
            if isinstance(value, dict):
                drop_nested(value, inner)
