"""Reads Singer messages from stdin as bytes, counting lines so every error can name its line."""

from __future__ import annotations

import contextlib
import io
import os
import re
import select
import stat
import sys
import time
import typing as t
from collections import Counter, defaultdict

import msgspec
from singer_sdk.exceptions import (
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.io_base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from ..config.config_checks import json_depth, json_type, show
from ..errors import InputError
from .json_chunks import decode_json, envelope_decoder

BLOCK_BYTES = 4 << 20
PIPE_BYTES = 1 << 20  # what Linux lets an unprivileged process ask of a pipe (pipe-max-size)
GATHER_SECONDS = 0.005
GATHER_DEADLINE_SECONDS = 0.1
# The envelope our tap and the SDK's writers put first on a RECORD line. A run of lines sharing
# one such prefix byte for byte is a run of RECORDs of one stream (JSON keys cannot repeat
# without Arrow's reader refusing the run, which then goes line by line).
_RUN_HEAD = re.compile(rb'\{"type": ?"RECORD", ?"stream": ?"([A-Za-z0-9_.\-]+)", ?"record": ?\{')
# Levels of arrays and objects a message other than a RECORD may hold, as for the tap's and the
# target's config files: far more than a SCHEMA needs (a compound field is ~8 deep), while one
# nested 900 deep parses, then ends a recursive walk (the SDK's schema checks) in a RecursionError.
MAX_MESSAGE_DEPTH = 100


def _blocks(source: io.BufferedIOBase) -> t.Iterator[bytes]:
    """Up to BLOCK_BYTES at a time: what is there, plus what arrives while the tap keeps writing.

    A pipe holds 64 KB, so reading only what is there would convert runs of ~200 lines and spend
    more on each conversion's fixed cost than it saves. Waiting up to GATHER_SECONDS for more
    fills blocks from a fast tap; a tap that pauses gets its lines (and STATE) handled after that
    pause, and one that trickles without pausing after GATHER_DEADLINE_SECONDS at most. 4 MB,
    not 1: a conversion's fixed cost grows with the columns (a 450-field object gets runs of
    ~180 rows instead of ~45: 401 -> 237 µs/row of target CPU, measured in README).
    """
    fileno: int | None
    try:
        fileno = source.fileno()
        _widen_pipe(fileno)
    except (OSError, io.UnsupportedOperation):
        fileno = None
    if sys.platform == "win32":
        fileno = None  # select() takes sockets only there
    while True:
        block = source.read1(BLOCK_BYTES)
        if not block:
            return
        parts, size = [block], len(block)
        deadline = time.monotonic() + GATHER_DEADLINE_SECONDS
        while (
            fileno is not None
            and size < BLOCK_BYTES
            and time.monotonic() < deadline
            and select.select([fileno], [], [], GATHER_SECONDS)[0]
            and (more := source.read1(BLOCK_BYTES - size))
        ):
            parts.append(more)
            size += len(more)
        yield b"".join(parts) if len(parts) > 1 else block


def _widen_pipe(fileno: int) -> None:
    """Let a pipe on stdin hold PIPE_BYTES (Linux; best effort): the tap blocks less on a full
    pipe."""
    if sys.platform.startswith("linux") and stat.S_ISFIFO(os.fstat(fileno).st_mode):
        import fcntl  # POSIX only

        with contextlib.suppress(OSError):
            fcntl.fcntl(fileno, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)


class RecordRouter(t.Protocol):
    """Where the reader sends what it does not decode itself (the target's ``router.Router``)."""

    @property
    def raw_records(self) -> bool:
        """True when RECORD lines may stay raw bytes (no stream maps change records)."""

    def accept_record(self, stream: str, record: msgspec.Raw, line: int, version: t.Any) -> bool:
        """Take one RECORD's raw ``record`` object (and its ``version``, None without one);
        False sends the line down the full path."""

    def accept_run(self, stream: str, lines: bytes, count: int) -> bool:
        """Take ``count`` whole RECORD lines of one stream; False: line by line instead."""

    def before_message(self) -> None:
        """A message other than a RECORD follows: convert what is pending (errors first)."""

    def on_error(self) -> None:
        """The input is bad: write what came before it, so stopping loses nothing."""


class LineReader(GenericSingerReader[bytes]):
    """msgspec-parsed lines; malformed JSON, bad UTF-8 or a missing type -> InputError with the line.

    With a router attached (``attach``) whose ``raw_records`` holds, a RECORD line is only routed:
    its record stays raw bytes for the sink to convert a chunk at a time, and runs of RECORD lines
    of one stream go to the router whole. Any other message first calls ``before_message`` so
    those chunks are converted, and their errors raised, before a STATE or SCHEMA that follows
    them is handled.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.router: RecordRouter | None = None
        self._fast: RecordRouter | None = None  # the router, when records may stay raw
        self._run_patterns: dict[bytes, re.Pattern[bytes]] = {}

    def attach(self, router: RecordRouter) -> None:
        self.router = router
        self._fast = router if router.raw_records else None

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
            if self.router is not None:
                self.router.on_error()
            raise

    def _process(
        self,
        source: t.IO[bytes],
        callbacks: dict[str, t.Callable[[dict], None]],
        stats: dict[str, int],
    ) -> Counter[str]:
        if self._fast is None or not isinstance(source, io.BufferedIOBase):
            for raw in source:
                self._line(raw if isinstance(raw, bytes) else raw.encode(), callbacks, stats)
            return Counter(**stats)
        tail = b""
        for block in _blocks(source):
            data = tail + block if tail else block
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            if cut:
                self._block(data[:cut], callbacks, stats)
        if tail:
            self._line(tail, callbacks, stats)
        return Counter(**stats)

    def _block(
        self, block: bytes, callbacks: dict[str, t.Callable[[dict], None]], stats: dict[str, int]
    ) -> None:
        """Complete lines: runs of RECORD lines of one stream go to the target whole; the rest,
        and any run it declines, line by line."""
        assert self._fast is not None
        position, end = 0, len(block)
        while position < end:
            head = _RUN_HEAD.match(block, position)
            stop = self._run_end(block, position, head.group(0)) if head else position
            count = block.count(b"\n", position, stop)
            if head is not None and count > 1:  # without a head, stop is position: no lines
                run = block[position:stop]
                if self._fast.accept_run(head.group(1).decode(), run, count):
                    self.line_number += count
                    stats["RECORD"] += count
                else:
                    for line in run.splitlines(keepends=True):
                        self._line(line, callbacks, stats)
                position = stop
                continue
            newline = block.index(b"\n", position)
            self._line(block[position : newline + 1], callbacks, stats)
            position = newline + 1

    def _run_end(self, block: bytes, position: int, prefix: bytes) -> int:
        """Where the lines starting with ``prefix`` from ``position`` on stop (a line boundary)."""
        pattern = self._run_patterns.get(prefix)
        if pattern is None:
            pattern = self._run_patterns[prefix] = re.compile(b"\n(?!" + re.escape(prefix) + b")")
        found = pattern.search(block, position)
        return found.start() + 1 if found else len(block)

    def _line(
        self, line: bytes, callbacks: dict[str, t.Callable[[dict], None]], stats: dict[str, int]
    ) -> None:
        self.line_number += 1
        if not line.strip():
            return
        message: dict | None = None
        fast = self._fast
        try:
            if fast is not None and self._routed(line, fast):
                stats["RECORD"] += 1
                return
            message = self.deserialize_json(line)
            kind = message.get("type")
            if kind != "RECORD" and fast is not None:
                fast.before_message()
            callback = callbacks.get(kind) if isinstance(kind, str) else None
            if callback is None or not isinstance(kind, str):
                # Cut short: the type is input, and may be megabytes long.
                raise InputError(
                    f"input line {self.line_number}: unknown or missing message type "
                    f"{show(kind, 80)}"
                )
            stream = message.get("stream")
            if stream is not None and not isinstance(stream, str):
                raise InputError(
                    f"input line {self.line_number}: a {kind} message's stream must be a "
                    f"string, got {json_type(stream)}"
                )
            if kind != "RECORD" and json_depth(message) > MAX_MESSAGE_DEPTH:
                raise InputError(
                    f"{_where(message)}input line {self.line_number}: {kind} message nested "
                    f"deeper than {MAX_MESSAGE_DEPTH} levels"
                )
            callback(message)
        except InputError:
            raise
        except InvalidJSONSchema as error:  # the SDK's check of a SCHEMA's schema
            raise InputError(
                f"{_where(message)}input line {self.line_number}: the schema is not a valid "
                f"JSON Schema ({_describe(error)})"
            ) from error
        except RecursionError as error:  # a RECORD nested too deeply for a recursive walk
            raise InputError(
                f"{_where(message)}input line {self.line_number}: nested too deeply to process"
            ) from error
        except (
            RecordsWithoutSchemaException,
            MissingKeyPropertiesError,
            InvalidInputLine,
        ) as error:
            # Keep the SDK's exception type (callers and its test suite match on it), add the line.
            error.args = (f"{_where(message)}input line {self.line_number}: {_describe(error)}",)
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise InputError(
                f"{_where(message)}input line {self.line_number}: {_describe(error)}"
            ) from error
        stats[kind] += 1

    def _routed(self, line: bytes, router: RecordRouter) -> bool:
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
            and router.accept_record(stream, record, self.line_number, envelope.version)
        )


def _where(message: dict | None) -> str:
    """The stream's name, cut short: it is input, and may be megabytes long."""
    stream = message.get("stream") if message else None
    if not stream or not isinstance(stream, str):
        return ""
    return f"stream '{stream if len(stream) <= 80 else stream[:77] + '...'}', "


def _describe(error: Exception) -> str:
    name = type(error).__name__
    if name == "RecordsWithoutSchemaException":
        return "RECORD before any SCHEMA message for this stream"
    text = str(error).splitlines()[0] if str(error) else name
    return text[:300]
