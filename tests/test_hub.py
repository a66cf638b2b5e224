"""meltano.yml is what Meltano Hub expects: valid against the installed Meltano's own project
schema, capabilities and settings exactly those `--about` prints, one settings group per login."""

from __future__ import annotations

import json
import subprocess
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
import yaml
from singer_sdk.exceptions import ConfigValidationError

from tap_salesforce_temporal.config.settings import Settings as TapSettings
from tests.helpers import TAP, TARGET
from tools.settings_docs import NOT_IN_MELTANO_SCHEMA, TAP_SETTING_GROUPS

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "meltano.yml").read_text())


def _about(command: str) -> dict:
    done = subprocess.run(
        [command, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_meltano_yml_is_valid_against_the_installed_meltano_project_schema() -> None:
    schema = json.loads((files("meltano") / "schemas" / "meltano.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(PROJECT)
    ]
    assert errors == []
    assert "version" not in PROJECT, "deprecated in Meltano 4: requires_meltano says it"
    assert PROJECT["requires_meltano"]


@pytest.mark.parametrize(("kind", "command"), [("extractors", TAP), ("loaders", TARGET)])
def test_capabilities_and_settings_are_exactly_what_about_prints(kind: str, command: str) -> None:
    about = _about(command)
    plugin = PROJECT["plugins"][kind][0]
    assert plugin["capabilities"] == [
        c for c in about["capabilities"] if c not in NOT_IN_MELTANO_SCHEMA
    ]
    assert "structured-logging" in plugin["capabilities"]
    assert [s["name"] for s in plugin["settings"]] == list(about["settings"]["properties"])
    assert {"stream_maps", "flattening_enabled"} <= {s["name"] for s in plugin["settings"]}


def _only(group: list[str]) -> dict:
    values = {
        "embedded_org": True,
        "domain": "acme.my.salesforce.com",
        "auth_flow": {
            frozenset(TAP_SETTING_GROUPS[2]): "client_credentials",
            frozenset(TAP_SETTING_GROUPS[3]): "refresh_token",
            frozenset(TAP_SETTING_GROUPS[4]): "jwt",
        }.get(frozenset(group), "password"),
    }
    return {name: values.get(name, f"given-{name}") for name in group}


@pytest.mark.parametrize("group", TAP_SETTING_GROUPS, ids=lambda g: "+".join(g))
def test_each_settings_group_is_enough_to_log_in_and_none_of_it_is_spare(
    group: list[str],
) -> None:
    assert PROJECT["plugins"]["extractors"][0]["settings_group_validation"] == TAP_SETTING_GROUPS
    TapSettings.from_config(_only(group))
    for missing in group:
        if missing == "auth_flow":
            continue  # defaults to password: leaving it out picks another group
        config = {k: v for k, v in _only(group).items() if k != missing}
        with pytest.raises(ConfigValidationError):
            TapSettings.from_config(config)
