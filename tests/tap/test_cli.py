"""``tap-salesforce-temporal --help`` lists the catalog tool; ``catalog select`` runs from it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import TAP


def test_given_help_then_the_catalog_command_is_listed_beside_the_taps_options() -> None:
    done = subprocess.run([TAP, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for word in ("catalog", "--discover", "--config", "--state"):
        assert word in done.stdout, word


def test_given_a_catalog_when_selecting_through_the_tap_command_then_only_those_are_selected(
    tmp_path: Path,
) -> None:
    def stream(name: str) -> dict:
        return {"tap_stream_id": name, "metadata": [{"breadcrumb": [], "metadata": {}}]}

    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"streams": [stream("Account"), stream("AccountHistory")]}))
    done = subprocess.run(
        [TAP, "catalog", "select", str(catalog), "Account"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    chosen = {
        s["tap_stream_id"]: s["metadata"][0]["metadata"]["selected"]
        for s in json.loads(done.stdout)["streams"]
    }
    assert chosen == {"Account": True, "AccountHistory": False}
