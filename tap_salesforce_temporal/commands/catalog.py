"""``tap-salesforce-temporal catalog select CATALOG STREAM...`` (or ``python -m tap_salesforce_temporal.commands.catalog``): select streams for a shell pipe.

Meltano users select with ``meltano select``; this does the same for a plain Singer catalog: the
named streams (exact names or glob patterns) are selected with all their fields, the others not.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys


def select(catalog: dict, patterns: list[str]) -> dict:
    matched: set[str] = set()
    for stream in catalog["streams"]:
        name = stream["tap_stream_id"]
        chosen = any(fnmatch.fnmatchcase(name, p) for p in patterns)
        if chosen:
            matched.add(name)
        for entry in stream.get("metadata", []):
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = chosen
    missing = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in matched)]
    if missing:
        raise SystemExit(f"no stream matches {', '.join(missing)}")
    return catalog


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tap-salesforce-temporal catalog", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    chooser = commands.add_parser("select", help="select streams and print the catalog")
    chooser.add_argument("catalog")
    chooser.add_argument("streams", nargs="+")
    args = parser.parse_args(argv)
    with open(args.catalog) as handle:
        catalog = json.load(handle)
    json.dump(select(catalog, args.streams), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
