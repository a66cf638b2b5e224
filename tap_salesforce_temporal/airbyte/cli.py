"""``source-salesforce-temporal spec|check|discover|read``: the Airbyte source command.

The Singer tap runs unchanged as a subprocess (``python -m tap_salesforce_temporal``-style, same
interpreter); this command only translates. stdout carries Airbyte messages only; the tap's log
goes to stderr as it comes, and its last line becomes the error of a failed check or read.

Every failure ends as the Airbyte protocol asks: one TRACE message of type ERROR with a
``failure_type`` (config_error for the user's config, catalog and state; system_error for the
rest) and a non-zero exit, never a traceback. The one exception is ``check``, whose answer to a
config the tap refuses (wrong credentials, a bad setting) is ``CONNECTION_STATUS`` FAILED, exit 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn

import msgspec
import simplejson

from ..config import json_files
from . import protocol

# The tap's key snapshots (``streams.key_snapshot.LIVE_KEYS``), for target-events' key
# reconciliation: not a stream of the Airbyte catalog (named here: this module stays light).
LIVE_KEYS = "_sdc_live_keys"

TAP = [sys.executable, "-c", "from tap_salesforce_temporal.console import main; main()"]
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _emit(message: dict) -> None:
    sys.stdout.buffer.write(_encode(message) + b"\n")


class TapFailed(Exception):
    """The Singer tap exited non-zero; the message is its last log line."""


class SourceError(Exception):
    """A failure of this command, with its Airbyte failure_type."""

    def __init__(self, message: str, failure_type: str = "config_error") -> None:
        super().__init__(message)
        self.failure_type = failure_type


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors become a config_error TRACE instead of a usage text."""

    def error(self, message: str) -> NoReturn:
        raise SourceError(f"command line: {message}")


@contextmanager
def _tap(args: list[str]) -> Iterator[IO[bytes]]:
    """The tap's stdout; its stderr copied through, the last line kept for a failure."""
    # argv is this interpreter, the tap's module and files this command wrote: no shell, no input.
    process = subprocess.Popen([*TAP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
    stdout, stderr = process.stdout, process.stderr
    if stdout is None or stderr is None:
        raise TapFailed("could not open the tap's output pipes")
    last: list[str] = []

    def pump(stream: IO[bytes]) -> None:
        for raw in stream:
            sys.stderr.buffer.write(raw)
            sys.stderr.flush()
            line = raw.decode("utf-8", "replace").strip()
            if line:
                last[:] = [line]

    copier = threading.Thread(target=pump, args=(stderr,), daemon=True)
    copier.start()
    try:
        yield stdout
    finally:
        stdout.close()
        code = process.wait()
        copier.join()
    if code != 0:
        raise TapFailed(last[0] if last else f"tap-salesforce-temporal exited with {code}")


def _write(directory: Path, name: str, value: Any) -> str:
    path = directory / name
    # simplejson writes the Decimals json_files reads numbers as, digit for digit.
    path.write_text(simplejson.dumps(value, use_decimal=True))
    return str(path)


def _read(label: str, path: str) -> object:
    """A user's input file as strict JSON (``json_files``): NaN, deep nesting, bad UTF-8 are one
    line naming the file."""
    try:
        return json_files.read(f"{label} file {path}", path)
    except json_files.JsonFileError as error:
        raise SourceError(str(error)) from None


def _config(path: str, directory: Path) -> str:
    config = _read("--config", path)
    if not isinstance(config, dict):
        raise SourceError(
            f"--config file {path}: expects a JSON object, got {json_files.json_kind(config)}"
        )
    for name in protocol.NOT_FOR_AIRBYTE:
        config.pop(name, None)
    return _write(directory, "config.json", config)


def _discover(config: str) -> dict:
    with _tap(["--config", config, "--discover"]) as out:
        text = out.read()
    return json.loads(text)  # parsed once the tap is known to have succeeded


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="source-salesforce-temporal", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("spec", help="print the connection specification")
    for name, text in (("check", "log in and list objects"), ("discover", "print the catalog")):
        commands.add_parser(name, help=text).add_argument("--config", required=True)
    reader = commands.add_parser("read", help="read records, emitting per-stream STATE")
    reader.add_argument("--config", required=True)
    reader.add_argument("--catalog", required=True)
    reader.add_argument("--state")
    try:
        args = parser.parse_args(argv)
        with tempfile.TemporaryDirectory(prefix="source-sf-") as tmp:
            return _run(args, Path(tmp))
    except TapFailed as failure:
        failure_type = protocol.failure_type_of(str(failure))
        if args.command == "check" and failure_type == "config_error":
            _emit(protocol.connection_status(str(failure)))
            return 0
        _emit(protocol.error_trace(str(failure), failure_type))
    except SourceError as error:
        _emit(protocol.error_trace(str(error), error.failure_type))
    except protocol.InputError as error:
        _emit(protocol.error_trace(str(error), "config_error"))
    except Exception as error:  # the protocol wants a TRACE, never a traceback
        _emit(protocol.error_trace(_unexpected(error), "system_error"))
    sys.stdout.flush()
    return 1


def _unexpected(error: BaseException) -> str:
    """One line for a failure no check foresaw: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    first = first if len(first) <= 200 else first[:197] + "..."
    return f"source-salesforce-temporal: internal error: {type(error).__name__}: {first}".rstrip(
        ": "
    )


def _settings_schema() -> dict:
    from ..tap import TapSalesforceTemporal

    schema = json.loads(json.dumps(TapSalesforceTemporal.config_jsonschema))
    TapSalesforceTemporal.append_builtin_config(schema)
    return json.loads(json.dumps(schema))


def _run(args: argparse.Namespace, tmp: Path) -> int:
    if args.command == "spec":
        _emit(protocol.spec(_settings_schema()))
        return 0
    config = _config(args.config, tmp)
    if args.command == "read":  # the user's inputs first: a bad one fails before any login
        configured = _read("--catalog", args.catalog)
        protocol.configured_streams(configured)
        incoming = _read("--state", args.state) if args.state else None
        protocol.singer_state(incoming, set())
    if args.command == "check":
        _discover(config)
        _emit(protocol.connection_status(None))
        return 0
    singer_catalog = _discover(config)
    if args.command == "discover":
        _emit(protocol.catalog(singer_catalog))
        return 0
    selected, full_refresh = protocol.configured_singer_catalog(singer_catalog, configured)
    state = protocol.singer_state(incoming, full_refresh)
    tap_args = ["--config", config, "--catalog", _write(tmp, "catalog.json", selected)]
    tap_args += ["--state", _write(tmp, "state.json", state)]
    last: dict[str, Any] = dict(state["bookmarks"])
    with _tap(tap_args) as out:
        for line in out:
            message = _decode(line)
            kind = message.get("type")
            if kind == "RECORD" and message.get("stream") != LIVE_KEYS:
                # Key snapshots are for target-events' reconciliation, not an Airbyte stream.
                _emit(protocol.record(message, protocol.now_ms()))
            elif kind == "STATE":
                for state_message in protocol.stream_states(message["value"], last):
                    _emit(state_message)
    sys.stdout.flush()
    return 0


def console() -> None:
    sys.exit(main())
