"""The README and meltano.yml agree with the code, and the README's shell pipe works as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from tap_salesforce_temporal.config.settings import CONFIG_SCHEMA as TAP_SCHEMA
from target_events.config.settings import CONFIG_SCHEMA as TARGET_SCHEMA
from tests.helpers import BIN, TAP, TARGET
from tools import settings_docs

ROOT = Path(__file__).resolve().parent.parent


def test_meltano_yml_and_readme_tables_are_generated_from_the_declared_settings() -> None:
    assert settings_docs.main([]) == 0, "run: python -m tools.settings_docs --write"
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for plugin, schema in (("extractors", TAP_SCHEMA), ("loaders", TARGET_SCHEMA)):
        entry = project["plugins"][plugin][0]
        names = [s["name"] for s in entry["settings"]]
        assert names[: len(schema["properties"])] == list(schema["properties"])
        secrets = {s["name"] for s in entry["settings"] if s.get("sensitive")}
        assert secrets == {
            name for name, spec in schema["properties"].items() if spec.get("secret")
        }
        assert "kind: password" not in (ROOT / "meltano.yml").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in [*TAP_SCHEMA["properties"], *TARGET_SCHEMA["properties"]]:
        assert f"| `{name}` |" in readme, name


def test_about_lists_every_declared_setting_and_flags_secrets() -> None:
    for command, schema in ((TAP, TAP_SCHEMA), (TARGET, TARGET_SCHEMA)):
        about = json.loads(
            subprocess.run(
                [command, "--about", "--format=json"], capture_output=True, text=True, check=True
            ).stdout
        )
        properties = about["settings"]["properties"]
        assert set(schema["properties"]) <= set(properties)
        for name, spec in schema["properties"].items():
            assert properties[name].get("secret", False) == spec.get("secret", False), name
        assert about["capabilities"]
        assert about["description"]


def test_the_readme_shell_pipe_runs_verbatim(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    [script] = re.findall(r"```bash pipe-example\n(.*?)```", readme, re.S)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "output-pipe"
    assert {p.name for p in out.iterdir() if not p.name.startswith((".", "_"))} == {
        "OpportunityFieldHistory",
        "micro_decision_events",
    }
    events = pq.read_table(out / "micro_decision_events").to_pylist()
    assert {e["event_type"] for e in events} >= {
        "field_change",
        "stage_change",
        "approval_decision",
        "setup_change",
    }
    state = json.loads((tmp_path / "state.json").read_text())
    assert "OpportunityFieldHistory" in state["bookmarks"]
    assert "Decisions:" in done.stdout
