"""The ``target-events`` command: the Singer target, and its companions as subcommands.

``target-events --config ...`` runs the target (the SDK's command, unchanged). ``target-events
report|summary|reconcile|as-of|compact ...`` run the analytics and maintenance tools over what
the target landed; ``target-events --help`` lists them. Every user-facing failure is one line
on stderr and exit 1.
"""

from __future__ import annotations

import importlib
import sys

import click
import simplejson
from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine

from .errors import Interrupted, TargetError

SDK_INPUT_ERRORS = (RecordsWithoutSchemaException, MissingKeyPropertiesError, InvalidInputLine)
# name -> (module with main(argv) -> int, one line for --help)
SUBCOMMANDS = {
    "report": (
        "target_events.report.cli",
        "Decision analytics (text, JSON or HTML) over the micro_decision_events that landed.",
    ),
    "summary": (
        "target_events.commands.summary",
        "What landed: rows and files per stream, what the last run added, events by type.",
    ),
    "reconcile": (
        "target_events.commands.reconcile",
        "Source keys (a full tap read on stdin) against the Delta tables' keys: missing, extra.",
    ),
    "as-of": (
        "target_events.commands.as_of",
        "A history table's mirror (lake_mode: history) as it was at a past moment.",
    ),
    "compact": (
        "target_events.commands.compact",
        "Merge small files (Parquet partitions, Delta tables) into files near a target size.",
    ),
}


def _subcommand(name: str, module: str, summary: str) -> click.Command:
    """A subcommand whose arguments go, untouched, to the tool's own parser (its --help too)."""

    @click.command(
        name=name,
        help=summary,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run(args: tuple[str, ...]) -> None:
        sys.exit(importlib.import_module(module).main(list(args)))

    return run


def command() -> click.Group:
    """The command group as ``--help`` shows it: the target's options and the subcommands."""
    from .target import TargetEvents

    singer = TargetEvents.cli
    group = click.Group(
        name="target-events",
        help=(
            "Execute the Singer target (durable Parquet, JSONL, CSV or Delta on disk or S3), "
            "or one of its commands over what it landed."
        ),
        params=list(singer.params),
        invoke_without_command=True,
        callback=lambda **_: None,
    )
    for name, (module, summary) in SUBCOMMANDS.items():
        group.add_command(_subcommand(name, module, summary))
    return group


def _one_line(error: BaseException | str, limit: int = 800) -> str:
    """The message on one line, at most ``limit`` characters: it may quote an input's value
    (a destination, a message type), which can be megabytes long."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_config_files(args: list[str]) -> None:
    """Each --config file is strict JSON holding an object, or one line names it."""
    from .config.config_checks import config_file_error

    for position, arg in enumerate(args):
        option, _, value = arg.partition("=")
        if option != "--config":
            continue
        if not value and position + 1 < len(args):
            value = args[position + 1]
        if value and value != "ENV":
            problem = config_file_error(value)
            if problem:
                raise TargetError(problem)


def main(argv: list[str] | None = None) -> None:
    """Console entry: a subcommand, the group's help, or the Singer target itself."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if args and (args[0] in SUBCOMMANDS or args[0] in ("--help", "-h")):
            command().main(args, prog_name="target-events")
            return
        _check_config_files(args)
        from .target import TargetEvents

        TargetEvents.cli.main(args, prog_name="target-events")
    except (TargetError, ConfigValidationError, *SDK_INPUT_ERRORS) as error:
        print(f"target-events: {_one_line(error)}", file=sys.stderr)  # noqa: T201
        sys.exit(error.exit_code if isinstance(error, Interrupted) else 1)
    except RecursionError:  # e.g. a SCHEMA nested thousands deep, walked by jsonschema
        print("target-events: the input is nested too deeply to process", file=sys.stderr)  # noqa: T201
        sys.exit(1)
    except InvalidJSONSchema as error:  # a SCHEMA message whose schema is not a JSON Schema
        first = (str(error).strip().splitlines() or [""])[0]
        print(f"target-events: a SCHEMA message: {_one_line(first)}", file=sys.stderr)  # noqa: T201
        sys.exit(1)
    except simplejson.JSONDecodeError as error:  # the SDK reading --config; no value shown
        print(  # noqa: T201
            f"target-events: the config file is not valid JSON: {error.msg} "
            f"(line {error.lineno} column {error.colno})",
            file=sys.stderr,
        )
        sys.exit(1)
