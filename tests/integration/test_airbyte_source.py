"""The Airbyte source, driven by a real Airbyte client (PyAirbyte, in its own venv because its
pins conflict with this project's): a read lands the same rows as the Singer tap, and a second read
resumes from the per-stream state PyAirbyte stored."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
import requests

from synthetic_org import SandboxOrg
from tests.helpers import BIN, run_tap, tap_config

ROOT = Path(__file__).resolve().parents[2]
AIRBYTE_PYTHON = ROOT / ".venv-airbyte" / "bin" / "python"
SOURCE = str(BIN / "source-salesforce-temporal")
STREAMS = ["Opportunity", "OpportunityHistory", "micro_decision_events"]


def _protocol(*args: str) -> list[dict]:
    done = subprocess.run([SOURCE, *args], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def _pyairbyte(config: dict, cache_dir: Path, streams: list[str]) -> dict:
    job = {"executable": SOURCE, "config": config, "cache_dir": str(cache_dir), "streams": streams}
    env = {**os.environ, "DO_NOT_TRACK": "1", "AIRBYTE_OFFLINE_MODE": "1"}
    done = subprocess.run(
        [str(AIRBYTE_PYTHON), str(ROOT / "tests" / "airbyte_driver.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_spec_and_catalog_speak_the_airbyte_protocol(tmp_path: Path) -> None:
    [spec] = _protocol("spec")
    properties = spec["spec"]["connectionSpecification"]["properties"]
    assert properties["client_secret"]["airbyte_secret"] is True
    assert "batch_config" not in properties
    jsonschema.Draft7Validator.check_schema(spec["spec"]["connectionSpecification"])
    with SandboxOrg(seed=3, scale=20) as org:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(tap_config(org, objects=["OpportunityHistory"])))
        [catalog] = _protocol("discover", "--config", str(config))
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**tap_config(org), "password": "wrong"}))
        [status] = _protocol("check", "--config", str(bad))
    streams = {s["name"]: s for s in catalog["catalog"]["streams"]}
    assert streams["OpportunityHistory"]["default_cursor_field"] == ["SystemModstamp"]
    assert streams["OpportunityHistory"]["source_defined_primary_key"] == [["Id"]]
    assert streams["micro_decision_events"]["supported_sync_modes"] == [
        "full_refresh",
        "incremental",
    ]
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "wrong" not in status["connectionStatus"]["message"]


@pytest.mark.slow
def test_given_pyairbyte_when_reading_twice_then_counts_match_singer_and_the_second_read_resumes(
    tmp_path: Path,
) -> None:
    if not AIRBYTE_PYTHON.exists():
        reason = f"PyAirbyte venv missing: {AIRBYTE_PYTHON} (make test builds it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    with SandboxOrg(seed=4, scale=40) as org:
        config = tap_config(org, objects=["Opportunity", "OpportunityHistory"])
        singer = run_tap(tmp_path, config)
        assert singer.returncode == 0, singer.stderr[-2000:]
        first = _pyairbyte(config, tmp_path, STREAMS)
        for stream in STREAMS:
            assert first["cached"][stream] == len(singer.records(stream)) > 0, stream
        assert first["processed"] == sum(len(singer.records(s)) for s in STREAMS)

        touched = requests.post(
            f"{org.base_url}/__sandbox__/advance", json={"opportunities": 3}, timeout=10
        ).json()["opportunities"]
        assert touched > 0
        second = _pyairbyte(config, tmp_path, ["Opportunity"])
        # Only the touched rows (and the row at the bookmark, read again by >=) come back.
        assert touched <= second["processed"] <= touched + 1
        assert second["cached"]["Opportunity"] == org.count("Opportunity")
