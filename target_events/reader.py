"""Reads Singer messages from stdin as bytes, counting lines so every error can name its line."""

from __future__ import annotations

import sys
import typing as t
from collections import Counter, defaultdict

import msgspec
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException
from singer_sdk.io_base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from .errors import InputError
from .json_chunks import decode_json, envelope_decoder


class LineReader(GenericSingerReader[bytes]):
    """msgspec-parsed lines; malformed JSON, bad UTF-8 or a missing type -> InputError with the line.

    With ``accept_record`` set (by the target, for streams without maps), a RECORD line is only
    routed here: its record stays raw bytes for the sink to convert a chunk at a time. Any other
    line first calls ``before_message`` so those chunks are converted, and their errors raised,
    before a STATE or SCHEMA that follows them is handled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        # Set by the target: writes what arrived before a bad line, so stopping loses nothing.
        self.on_error: t.Callable[[], None] | None = None
        self.accept_record: t.Callable[[str, msgspec.Raw, int], bool] | None = None
        self.before_message: t.Callable[[], None] = lambda: None

    @property
    def default_input(self) -> t.IO[bytes]:
        return sys.stdin.buffer

    def deserialize_json(self, line: bytes) -> dict:
        value = decode_json(line, self.line_number)
        if not isinstance(value, dict):
            raise InputError(
                f"input line {self.line_number}: a Singer message must be a JSON object"
            )
        return value

    def process_lines(
        self, file_input: t.IO[bytes] | None, callbacks: dict[str, t.Callable[[dict], None]]
    ) -> Counter[str]:
        stats: dict[str, int] = defaultdict(int)
        try:
            return self._process(file_input or self.default_input, callbacks, stats)
        except (
            InputError,
            RecordsWithoutSchemaException,
            MissingKeyPropertiesError,
            InvalidInputLine,
        ):
            if self.on_error is not None:
                self.on_error()
            raise

    def _process(
        self,
        source: t.IO[bytes],
        callbacks: dict[str, t.Callable[[dict], None]],
        stats: dict[str, int],
    ) -> Counter[str]:
        accept = self.accept_record
        for raw in source:
            self.line_number += 1
            line = raw if isinstance(raw, bytes) else raw.encode()
            if not line.strip():
                continue
            message: dict | None = None
            try:
                if accept is not None and self._routed(line, accept):
                    stats["RECORD"] += 1
                    continue
                self.before_message()
                message = self.deserialize_json(line)
                kind = message.get("type")
                callback = callbacks.get(kind) if isinstance(kind, str) else None
                if callback is None:
                    raise InputError(
                        f"input line {self.line_number}: unknown or missing message type {kind!r}"
                    )
                callback(message)
            except InputError:
                raise
            except (
                RecordsWithoutSchemaException,
                MissingKeyPropertiesError,
                InvalidInputLine,
            ) as error:
                # Keep the SDK's exception type (callers and its test suite match on it), add the line.
                error.args = (
                    f"{_where(message)}input line {self.line_number}: {_describe(error)}",
                )
                raise
            except (KeyError, TypeError, ValueError) as error:
                raise InputError(
                    f"{_where(message)}input line {self.line_number}: {_describe(error)}"
                ) from error
            stats[kind] += 1
        return Counter(**stats)

    def _routed(self, line: bytes, accept: t.Callable[[str, msgspec.Raw, int], bool]) -> bool:
        """True when the line is a RECORD the target took as raw bytes; else the full path runs."""
        try:
            envelope = envelope_decoder.decode(line)
        except (msgspec.DecodeError, RecursionError):
            return False  # the full decode words the error
        stream, record = envelope.stream, envelope.record
        return (
            envelope.type == "RECORD"
            and stream.__class__ is str
            and len(record) > 0  # no "record": the SDK's path names what is missing
            and accept(stream, record, self.line_number)
        )


def _where(message: dict | None) -> str:
    stream = message.get("stream") if message else None
    return f"stream '{stream}', " if stream else ""


def _describe(error: Exception) -> str:
    name = type(error).__name__
    if name == "RecordsWithoutSchemaException":
        return "RECORD before any SCHEMA message for this stream"
    text = str(error).splitlines()[0] if str(error) else name
    return text[:300]
