"""The Airbyte source given bad inputs: one TRACE ERROR with a failure_type, exit non-zero.

The Airbyte protocol's answer to a failure is an ``AirbyteTraceMessage`` of type ERROR whose
``failure_type`` tells the platform whose it is (config_error: the user's config, catalog or
state, not retried; system_error: the source's). stdout must stay Airbyte messages only and no
Python traceback may reach stderr. ``check`` keeps its own answer for a config the tap refuses
(CONNECTION_STATUS FAILED, exit 0): tested in test_airbyte_source.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tap_salesforce_temporal.airbyte import protocol
from tests.helpers import BIN

SOURCE = str(BIN / "source-salesforce-temporal")
EMBEDDED = {"embedded_org": True, "embedded_org_scale": 5}
CATALOG = {
    "streams": [
        {"stream": {"name": "Opportunity", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
         "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
    ]
}  # fmt: skip


def _source(*args: str) -> tuple[int, list[dict], str]:
    done = subprocess.run([SOURCE, *args], capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, messages, done.stderr


def _the_error(messages: list[dict]) -> dict:
    traces = [m for m in messages if m["type"] == "TRACE"]
    assert len(traces) == 1, messages
    trace = traces[0]["trace"]
    assert trace["type"] == "ERROR"
    assert isinstance(trace["emitted_at"], float)
    assert "\n" not in trace["error"]["message"]
    return trace["error"]


def _file(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


@pytest.mark.parametrize("command", ["check", "discover", "read"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[1, 2]", "expects a JSON object, got array"),
        ('"text"', "expects a JSON object, got string"),
        ('{"embedded_org": true, "max_retries": NaN}', "not valid JSON (NaN is not a JSON value)"),
        ("[" * 50_000 + "]" * 50_000, "not valid JSON (nested deeper than 100 levels)"),
        ("{", "not valid JSON (Expecting property name enclosed in double quotes"),
    ],
    ids=["list", "string", "nan", "deep", "truncated"],
)
def test_given_a_config_that_is_not_an_object_then_one_config_error_trace(
    tmp_path: Path, command: str, content: str, problem: str
) -> None:
    config = _file(tmp_path, "config.json", content)
    extra = ["--catalog", _file(tmp_path, "catalog.json", CATALOG)] if command == "read" else []
    code, messages, _ = _source(command, "--config", config, *extra)
    assert code == 1
    error = _the_error(messages)
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith(f"--config file {config}: {problem}")


@pytest.mark.parametrize(
    ("catalog", "problem"),
    [
        ({"foo": 1}, "catalog: 'streams' expects an array of configured streams, got null"),
        ([CATALOG], "catalog: expects a JSON object, got array"),
        ({"streams": [{"sync_mode": "full_refresh"}]}, "catalog: streams[0].stream expects an object, got null"),
        ({"streams": [{"stream": {"name": 5}}]}, "catalog: streams[0].stream.name expects a stream name, got number"),
        ({"streams": [{"stream": {"name": "Opportunity"}, "sync_mode": "sometimes"}]},
         "catalog: streams[0].sync_mode expects one of full_refresh, incremental"),
    ],
)  # fmt: skip
def test_given_a_malformed_configured_catalog_then_one_config_error_trace(
    tmp_path: Path, catalog: object, problem: str
) -> None:
    config = _file(tmp_path, "config.json", EMBEDDED)
    code, messages, _ = _source(
        "read", "--config", config, "--catalog", _file(tmp_path, "catalog.json", catalog)
    )
    assert code == 1
    error = _the_error(messages)
    assert (error["failure_type"], error["message"]) == ("config_error", problem)


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        ({"bookmarks": 5}, "state: 'bookmarks' expects an object of stream bookmarks, got number"),
        (["a", "b"], "state: [0] expects a state message, got string"),
        ([{"type": "STREAM", "stream": {}}], "state: [0].stream.stream_descriptor.name expects a stream name"),
        ([{"type": "GLOBAL", "global": {}}], "state: [0].type 'GLOBAL' is not supported (STREAM or LEGACY)"),
        ("5", "state: expects an array of state messages, got number"),
        ('[{"type": "STREAM", "x": Infinity}]', "not valid JSON (Infinity is not a JSON value)"),
    ],
)  # fmt: skip
def test_given_a_malformed_state_then_one_config_error_trace(
    tmp_path: Path, state: object, problem: str
) -> None:
    config = _file(tmp_path, "config.json", EMBEDDED)
    code, messages, _ = _source(
        "read",
        "--config", config,
        "--catalog", _file(tmp_path, "catalog.json", CATALOG),
        "--state", _file(tmp_path, "state.json", state),
    )  # fmt: skip
    assert code == 1
    error = _the_error(messages)
    assert error["failure_type"] == "config_error"
    assert problem in error["message"]


def test_given_a_bookmark_the_tap_refuses_then_the_trace_is_a_config_error(
    tmp_path: Path,
) -> None:
    """The tap checks the bookmarks themselves; its one line becomes the TRACE's message."""
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "Opportunity"},
                                           "stream_state": {"replication_key_value": 5}}}]  # fmt: skip
    catalog = {"streams": [{**CATALOG["streams"][0], "sync_mode": "incremental"}]}
    code, messages, _ = _source(
        "read",
        "--config", _file(tmp_path, "config.json", {**EMBEDDED, "objects": ["Opportunity"]}),
        "--catalog", _file(tmp_path, "catalog.json", catalog),
        "--state", _file(tmp_path, "state.json", state),
    )  # fmt: skip
    assert code == 1
    error = _the_error(messages)
    assert error["failure_type"] == "config_error"
    assert (
        "STATE: bookmarks.Opportunity.replication_key_value expects an ISO-8601"
        in (error["message"])
    )


@pytest.mark.parametrize(
    "args", [[], ["read", "--config", "c.json"], ["launch"]], ids=["none", "no-catalog", "unknown"]
)
def test_given_a_wrong_command_line_then_one_config_error_trace(args: list[str]) -> None:
    code, messages, _ = _source(*args)
    assert code == 1
    error = _the_error(messages)
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith("command line: ")


def test_given_a_missing_config_file_then_one_config_error_trace(tmp_path: Path) -> None:
    code, messages, _ = _source("discover", "--config", str(tmp_path / "nope.json"))
    assert code == 1
    assert (
        _the_error(messages)["message"] == f"--config file {tmp_path / 'nope.json'}: no such file"
    )


@pytest.mark.parametrize(
    ("line", "failure_type"),
    [
        ("tap-salesforce-temporal: setting 'domain': is required", "config_error"),
        (
            "tap-salesforce-temporal: Salesforce login failed (auth_flow=password): x",
            "config_error",
        ),
        ("tap-salesforce-temporal: STATE: bookmarks.A expects an object", "config_error"),
        ("tap-salesforce-temporal: catalog: none of the selected streams exist", "config_error"),
        ("tap-salesforce-temporal: stopped early by the API quota guard (...)", "transient_error"),
        ("tap-salesforce-temporal: query Account: gave up after 8 retries", "system_error"),
        ("Segmentation fault", "system_error"),
    ],
)
def test_the_taps_last_line_decides_the_failure_type(line: str, failure_type: str) -> None:
    assert protocol.failure_type_of(line) == failure_type
