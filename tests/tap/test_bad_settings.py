"""Every tap setting given a wrong type or value fails in one line that names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tap_salesforce_temporal.config.settings import CONFIG_SCHEMA, _kind
from tests.helpers import run_tap

WRONG_BY_KIND = {
    "string": 12345,
    "integer": "abc",
    "number": "lots",
    "boolean": "maybe",
    "array": "Account",
    "object": "Account",
}


def _wrong(name: str, spec: dict) -> object:
    if spec.get("format") == "date-time":
        return "yesterday"
    return WRONG_BY_KIND[_kind(spec)]


@pytest.mark.parametrize("name", list(CONFIG_SCHEMA["properties"]))
def test_given_a_wrong_value_for_each_setting_when_running_then_one_line_names_it(
    tmp_path: Path, name: str
) -> None:
    spec = CONFIG_SCHEMA["properties"][name]
    run = run_tap(
        tmp_path,
        {"embedded_org": True, "embedded_org_scale": 5, name: _wrong(name, spec)},
        discover=True,
    )
    assert run.returncode != 0, f"{name} accepted a wrong value"
    assert f"setting '{name}'" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
