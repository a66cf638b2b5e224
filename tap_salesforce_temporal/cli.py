"""The ``tap-salesforce-temporal`` command line: the tap's shell, above the tap itself.

``tap-salesforce-temporal --config ...`` is the SDK's Singer command, unchanged, with user-facing
errors as one line on stderr; ``catalog`` is the catalog tool (select streams of a discovered
catalog for a shell pipe); ``plan`` splits the selected streams into shards for a scheduler
(``plan``); ``--help`` lists the tap's options and its companion commands in one place.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click
import pyarrow as pa
from singer_sdk.exceptions import ConfigurationError, DiscoveryError, MappingError

from .commands import catalog
from .config import json_files
from .config.catalog_checks import check_catalog
from .errors import Interrupted, TapError
from .tap import TapSalesforceTemporal


def command() -> click.Group:
    singer = TapSalesforceTemporal.cli
    group = click.Group(
        name="tap-salesforce-temporal",
        help=(
            "Execute the Singer tap (Salesforce objects and their history, REST and Bulk 2.0), "
            "or one of its commands. The Airbyte source is the separate command "
            "source-salesforce-temporal; the synthetic org is synthetic-org."
        ),
        params=list(singer.params),
        invoke_without_command=True,
        callback=lambda **_: None,
    )

    @group.command(
        name="catalog",
        help="Select streams of a discovered catalog for a shell pipe: catalog select CATALOG STREAM...",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run_catalog(args: tuple[str, ...]) -> None:
        sys.exit(catalog.main(list(args)))

    @group.command(
        name="plan",
        help="Split the selected streams into N shards balanced by rows: "
        "plan --shards N --config CONFIG [--catalog CATALOG] --output DIR",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run_plan(args: tuple[str, ...]) -> None:
        sys.exit(_run_plan(list(args)))

    return group


def _run_plan(args: list[str]) -> int:
    """``plan``: the shard plan (``plan``), its errors as one line like the tap's."""
    from .commands import plan

    try:
        return plan.main(args)
    except (TapError, ConfigurationError, DiscoveryError) as error:
        print(f"tap-salesforce-temporal: {_one_line(error)}", file=sys.stderr)  # noqa: T201
        return 1


def _use_jemalloc() -> None:
    """Arrow's jemalloc pool instead of its default (mimalloc): measured at 1.4M rows, the tap's
    peak RSS fell from ~280-300 MB to ~190 MB in RECORD and BATCH mode, at the same speed (each
    Bulk page's buffers are freed and reused page after page). Wheels built without jemalloc keep
    the default; an explicit ARROW_DEFAULT_MEMORY_POOL still wins. (The target differs: its
    Parquet writes did best on the system allocator.)"""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def _check_json_files(argv: list[str]) -> None:
    """The --config/--catalog/--state files are strict JSON objects, or one line names the file.

    The SDK's CLI reads them with a parser whose error says where, but not in which file, and
    that takes ``NaN`` or ends a file nested 50,000 deep in a ``RecursionError`` (``json_files``).
    """
    options = ("--config", "--catalog", "--state")
    for position, arg in enumerate(argv):
        option, _, value = arg.partition("=")
        if option not in options:
            continue
        if not value and position + 1 < len(argv):
            value = argv[position + 1]
        if not value or value == "ENV" or _is_pipe(value):
            continue
        try:
            content = json_files.read_object(f"{option} file {value}", value)
            if option == "--catalog":
                check_catalog(content)
        except json_files.JsonFileError as error:
            raise TapError(str(error)) from None


def _is_pipe(path: str) -> bool:
    """A FIFO or device (``--config <(...)``) can be read once only: it is left to the SDK."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


def main() -> None:
    """Console entry point: user-facing errors become one line on stderr and exit code 1.

    ``tap-salesforce-temporal catalog ...`` runs the catalog tool; ``--help`` lists it beside the
    tap's options (``command``).
    """
    args = sys.argv[1:]
    if args[:1] == ["plan"]:
        sys.exit(_run_plan(args[1:]))
    if args[:1] == ["catalog"] or args[:1] == ["--help"]:
        command().main(args, prog_name="tap-salesforce-temporal")
        return
    _use_jemalloc()
    try:
        _check_json_files(args)
        TapSalesforceTemporal.cli()
    except TapError as error:
        print(f"tap-salesforce-temporal: {_one_line(error)}", file=sys.stderr)  # noqa: T201
        sys.exit(error.exit_code if isinstance(error, Interrupted) else 1)
    except (ConfigurationError, DiscoveryError, MappingError) as error:
        # Settings, a catalog naming a replication key its stream lacks, stream maps: the SDK's
        # own errors about what the user gave, worded by the SDK, printed as one line.
        print(f"tap-salesforce-temporal: {_one_line(error)}", file=sys.stderr)  # noqa: T201
        sys.exit(1)


def _one_line(error: BaseException, limit: int = 800) -> str:
    """The error's message on one line and at most ``limit`` characters: a message may quote a
    value from an input file, which can be megabytes long or hold newlines."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
