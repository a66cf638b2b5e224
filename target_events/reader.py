"""Reads Singer messages from stdin as bytes, counting lines so every error can name its line."""

from __future__ import annotations

import sys
import typing as t
from collections import Counter, defaultdict

import msgspec
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException
from singer_sdk.io_base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from .sinks import InputError

_decoder = msgspec.json.Decoder()


class LineReader(GenericSingerReader[bytes]):
    """msgspec-parsed lines; malformed JSON, bad UTF-8 or a missing type -> InputError with the line."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        # Set by the target: writes what arrived before a bad line, so stopping loses nothing.
        self.on_error: t.Callable[[], None] | None = None

    @property
    def default_input(self) -> t.IO[bytes]:
        return sys.stdin.buffer

    def deserialize_json(self, line: bytes) -> dict:
        try:
            value = _decoder.decode(line)
        except msgspec.DecodeError as error:
            raise InputError(
                f"input line {self.line_number}: not a valid JSON message ({error})"
            ) from error
        except RecursionError as error:  # found by the fuzz test: msgspec recurses per level
            raise InputError(
                f"input line {self.line_number}: JSON nested too deeply to be a Singer message"
            ) from error
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
        for raw in source:
            self.line_number += 1
            line = raw if isinstance(raw, bytes) else raw.encode()
            if not line.strip():
                continue
            message = self.deserialize_json(line)
            kind = message.get("type")
            callback = callbacks.get(kind) if isinstance(kind, str) else None
            if callback is None:
                raise InputError(
                    f"input line {self.line_number}: unknown or missing message type {kind!r}"
                )
            try:
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


def _where(message: dict) -> str:
    stream = message.get("stream")
    return f"stream '{stream}', " if stream else ""


def _describe(error: Exception) -> str:
    name = type(error).__name__
    if name == "RecordsWithoutSchemaException":
        return "RECORD before any SCHEMA message for this stream"
    text = str(error).splitlines()[0] if str(error) else name
    return text[:300]
