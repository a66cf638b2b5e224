"""Generates meltano.yml and the README settings tables from the plugins' declared settings.

Settings are declared once, in code (``CONFIG_SCHEMA`` of each plugin); this keeps the two other
places that list them in step. ``python -m tools.settings_docs --write`` regenerates both files;
the test suite fails when either is out of date.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

import yaml
from singer_sdk.plugin_base import PluginBase

from tap_salesforce_temporal.config.settings import CONFIG_SCHEMA as TAP_SCHEMA
from tap_salesforce_temporal.tap import TapSalesforceTemporal
from target_events.config.settings import CONFIG_SCHEMA as TARGET_SCHEMA
from target_events.target import TargetEvents

ROOT = Path(__file__).resolve().parent.parent
REQUIRES_MELTANO = ">=4.4,<5"
# `--about` lists it (the SDK adds it to every target), but Meltano's project schema has no such
# capability and rejects the file; the `validate_records` setting it stands for is declared.
NOT_IN_MELTANO_SCHEMA = frozenset({"validate-records"})
# One valid combination of settings per way to log in (mirrors Settings' per-flow checks; a test
# proves each group is accepted by the tap and that dropping any member of it is refused).
TAP_SETTING_GROUPS = [
    ["embedded_org"],
    ["username", "password", "client_id", "client_secret"],
    ["auth_flow", "client_id", "client_secret", "domain"],
    ["auth_flow", "client_id", "refresh_token"],
    ["auth_flow", "client_id", "username", "private_key"],
]
TARGET_SETTING_GROUPS = [["destination"]]

# A third-party loader the tests run end to end (tests/integration/test_postgres_e2e.py): declared
# here in full so that `meltano install` needs no Hub lookup. Its settings come from the
# TARGET_POSTGRES_* env vars (see README); `meltano install target-postgres` installs it on demand.
TARGET_POSTGRES = {
    "name": "target-postgres",
    "namespace": "target_postgres",
    "variant": "meltanolabs",
    "pip_url": "meltanolabs-target-postgres~=0.8.1",
    "executable": "target-postgres",
    "capabilities": [
        "about",
        "stream-maps",
        "schema-flattening",
        "activate-version",
        "hard-delete",
    ],
    "settings_group_validation": [["host", "port", "user", "password", "database"]],
    "settings": [
        {"name": "host", "kind": "string", "label": "Host"},
        {"name": "port", "kind": "integer", "label": "Port", "value": 5432},
        {"name": "user", "kind": "string", "label": "User"},
        {"name": "password", "kind": "string", "label": "Password", "sensitive": True},
        {"name": "database", "kind": "string", "label": "Database"},
        {
            "name": "default_target_schema",
            "kind": "string",
            "label": "Default target schema",
            "value": "salesforce",
        },
        {
            "name": "load_method",
            "kind": "options",
            "label": "Load method",
            "description": "upsert: rows with the same primary key (Salesforce Id, event_id) replace the stored one.",
            "options": [{"label": v, "value": v} for v in ("append-only", "upsert", "overwrite")],
            "value": "upsert",
        },
    ],
}


def about_settings(plugin: type[PluginBase]) -> dict:
    """The settings schema ``--about`` prints: the plugin's own plus the SDK's built-in ones
    (stream maps, flattening, batch_config, ...), computed as the SDK does, on a copy."""
    schema = copy.deepcopy(plugin.config_jsonschema)
    plugin.append_builtin_config(schema)
    # Some SDK defaults are str enums (load_method): plain JSON values, as `--about` prints them.
    return json.loads(json.dumps(schema))


def meltano_capabilities(plugin: type[PluginBase]) -> list[str]:
    return [str(c.value) for c in plugin.capabilities if str(c.value) not in NOT_IN_MELTANO_SCHEMA]


BEGIN, END = "<!-- settings:{name}:begin -->", "<!-- settings:{name}:end -->"


def _kind(spec: dict) -> str:
    types = [
        t
        for t in (spec.get("type") if isinstance(spec.get("type"), list) else [spec.get("type")])
        if t != "null"
    ]
    kind = types[0] if types else "string"
    if "enum" in spec:
        return "options"
    if kind == "string" and spec.get("format") == "date-time":
        return "date_iso8601"
    return {
        "integer": "integer",
        "number": "decimal",
        "boolean": "boolean",
        "array": "array",
        "object": "object",
    }.get(kind, "string")


def meltano_settings(schema: dict) -> list[dict]:
    settings = []
    for name, spec in schema["properties"].items():
        entry: dict = {
            "name": name,
            "kind": _kind(spec),
            "label": spec.get("title", name),
            "description": spec.get("description", ""),
        }
        if "enum" in spec:
            entry["options"] = [
                {"label": str(v), "value": v} for v in spec["enum"] if v is not None
            ]
        if spec.get("default") is not None:
            entry["value"] = spec["default"]
        if spec.get("secret"):
            entry["sensitive"] = True
        settings.append(entry)
    return settings


def meltano_project() -> dict:
    env = "${MELTANO_PROJECT_ROOT}"
    return {
        "requires_meltano": REQUIRES_MELTANO,
        "default_environment": "demo",
        "project_id": "tap-salesforce-temporal",
        "send_anonymous_usage_stats": False,
        "plugins": {
            "extractors": [
                {
                    "name": "tap-salesforce-temporal",
                    "namespace": "tap_salesforce_temporal",
                    "pip_url": "-e .",
                    "executable": "tap-salesforce-temporal",
                    "capabilities": meltano_capabilities(TapSalesforceTemporal),
                    "settings_group_validation": TAP_SETTING_GROUPS,
                    "settings": meltano_settings(about_settings(TapSalesforceTemporal)),
                }
            ],
            "loaders": [
                {
                    "name": "target-events",
                    "namespace": "target_events",
                    "pip_url": "-e .",
                    "executable": "target-events",
                    "capabilities": meltano_capabilities(TargetEvents),
                    "settings_group_validation": TARGET_SETTING_GROUPS,
                    "settings": meltano_settings(about_settings(TargetEvents)),
                },
                TARGET_POSTGRES,
            ],
        },
        "environments": [
            {
                "name": "demo",
                "config": {
                    "plugins": {
                        "extractors": [
                            {
                                "name": "tap-salesforce-temporal",
                                "config": {
                                    "embedded_org": True,
                                    "embedded_org_scale": 300,
                                    "embedded_org_seed": 1,
                                    "start_date": "2020-01-01T00:00:00Z",
                                },
                            }
                        ],
                        "loaders": [
                            {"name": "target-events", "config": {"destination": f"{env}/output"}}
                        ],
                    }
                },
            },
            {
                "name": "dev",
                "config": {
                    "plugins": {
                        "extractors": [
                            {
                                "name": "tap-salesforce-temporal",
                                "config": {
                                    "domain": "test",
                                    "objects": [
                                        "Opportunity*",
                                        "Case*",
                                        "ProcessInstance*",
                                        "SetupAuditTrail",
                                        "Task",
                                        "Event",
                                        "User",
                                    ],
                                },
                            }
                        ],
                        "loaders": [
                            {
                                "name": "target-events",
                                "config": {"destination": f"{env}/output-dev", "format": "jsonl"},
                            }
                        ],
                    }
                },
            },
            {
                "name": "prod",
                "config": {
                    "plugins": {
                        "extractors": [
                            {
                                "name": "tap-salesforce-temporal",
                                "config": {
                                    "auth_flow": "jwt",
                                    "domain": "$SF_DOMAIN",
                                    "client_id": "$SF_CLIENT_ID",
                                    "username": "$SF_USERNAME",
                                    "private_key": "$SF_PRIVATE_KEY",
                                    "start_date": "2024-01-01T00:00:00Z",
                                    "max_api_usage_percent": 50,
                                },
                            }
                        ],
                        "loaders": [
                            {
                                "name": "target-events",
                                "config": {
                                    "destination": "$EVENTS_DESTINATION",
                                    "aws_region": "$AWS_REGION",
                                },
                            }
                        ],
                    }
                },
            },
        ],
        "jobs": [
            {"name": "salesforce-history", "tasks": ["tap-salesforce-temporal target-events"]}
        ],
        "schedules": [
            {
                "name": "salesforce-history-every-15-minutes",
                "interval": "*/15 * * * *",
                "job": "salesforce-history",
            }
        ],
    }


def render_meltano_yml() -> str:
    header = "# Generated by `python -m tools.settings_docs --write` from the plugins' settings; edit the code, not this file.\n"
    return header + yaml.safe_dump(
        meltano_project(), sort_keys=False, width=1000, allow_unicode=True
    )


def markdown_table(schema: dict) -> str:
    lines = ["| setting | type | default | secret | description |", "|---|---|---|---|---|"]
    for name, spec in schema["properties"].items():
        default = spec.get("default")
        shown = "" if default is None else f"`{default}`"
        kind = _kind(spec)
        if kind == "options":
            kind = " \\| ".join(str(v) for v in spec["enum"] if v is not None)
        description = spec.get("description", "").replace("|", "\\|")
        lines.append(
            f"| `{name}` | {kind} | {shown} | {'yes' if spec.get('secret') else ''} | {description} |"
        )
    return "\n".join(lines)


def render_readme(text: str) -> str:
    for name, schema in (("tap", TAP_SCHEMA), ("target", TARGET_SCHEMA)):
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the {begin} ... {end} markers")
        block = f"{begin}\n{markdown_table(schema)}\n{end}"
        text = pattern.sub(lambda _m, block=block: block, text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite meltano.yml and README.md")
    args = parser.parse_args(argv)
    readme = ROOT / "README.md"
    meltano = ROOT / "meltano.yml"
    wanted = {meltano: render_meltano_yml(), readme: render_readme(readme.read_text())}
    stale = [
        path.name
        for path, content in wanted.items()
        if not path.exists() or path.read_text() != content
    ]
    if args.write:
        for path, content in wanted.items():
            path.write_text(content)
        return 0
    if stale:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
