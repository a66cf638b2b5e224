"""``tap-salesforce-temporal --help``: the tap's options and its companion commands in one place.

``tap-salesforce-temporal --config ...`` is the SDK's Singer command, unchanged; ``catalog`` is the
catalog tool (select streams of a discovered catalog for a shell pipe).
"""

from __future__ import annotations

import sys

import click

from . import catalog


def command() -> click.Group:
    from .tap import TapSalesforceTemporal

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

    return group
