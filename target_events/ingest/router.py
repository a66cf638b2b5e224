"""The reader's router (``reader.RecordRouter``): RECORD lines to their stream's buffer.

For streams whose one stream map is the identity, the reader hands over raw record bytes or whole
runs of RECORD lines; the router finds the stream's sink (looked up once per stream): raw records
and runs go to its intake (``intake.py``, the one way into a sink). After every acceptance the
target's flush policy decides (a full sink is written, then STATE follows). Everything else the reader decodes and the SDK dispatches as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .sinks import EventsSink


class Router:
    def __init__(
        self,
        *,
        raw_records: bool,
        after_records: Callable[[], None],
        drain_all: Callable[[], None],
        logger: logging.Logger,
    ) -> None:
        self._raw_records = raw_records
        self._after_records = after_records
        self._flush_all = drain_all
        self._logger = logger
        self._sinks: dict[str, EventsSink] = {}  # every identity-mapped stream's active sink

    @property
    def raw_records(self) -> bool:
        return self._raw_records

    # -- sinks --
    def track(self, stream: str, sink: EventsSink | None) -> None:
        """The stream's active sink, or None when its records take the SDK's mapped path."""
        if sink is None:
            self._sinks.pop(stream, None)
        else:
            self._sinks[stream] = sink

    def sink(self, stream: str) -> EventsSink | None:
        return self._sinks.get(stream)

    # -- what the reader calls --
    def accept_record(self, stream: str, record: Any, line: int, version: Any = None) -> bool:
        """One RECORD's raw ``record`` object into its sink's intake; False (the reader decodes
        the line and the SDK's path takes it) for a stream without an identity-mapped sink."""
        sink = self._sinks.get(stream)
        if sink is None or sink.intake.converter is None:
            return False
        sink.use_version(version)
        sink.intake.add_raw(record, line)
        self.settle(sink)
        return True

    def accept_run(self, stream: str, lines: bytes, count: int) -> bool:
        """A run of whole RECORD lines of one stream into its sink's intake, converted in one go;
        False when a line needs the per-line path."""
        sink = self._sinks.get(stream)
        if sink is None or sink.intake.converter is None:
            return False
        if sink.keeps_versions and b'"version"' in lines:
            return False  # line by line: each RECORD's version decides where it goes
        sink.use_version(None)
        if not sink.intake.add_run(lines, count):
            return False
        self.settle(sink)
        return True

    def settle(self, sink: EventsSink) -> None:
        """The flush policy after records arrived: a full sink is written, then STATE follows."""
        if sink.is_full:
            sink.drain()
        self._after_records()

    def before_message(self) -> None:
        """Pending raw chunks become Arrow (and their errors surface) before a STATE or SCHEMA."""
        for sink in self._sinks.values():
            sink.seal_pending()

    def on_error(self) -> None:
        """Write every valid record that came before the bad input, then pass the last STATE on."""
        try:
            self._flush_all()
        except Exception as error:
            self._logger.warning("Could not flush pending records before stopping: %s", error)
