"""Every target setting fed wrong types and hostile values: one line naming it, never a secret.

The whole matrix runs the console entry point in-process (the same ``main`` the script calls, with
its real stdin, stdout and stderr file descriptors captured), so it stays fast; a few cases also run
as real subprocesses, which prove the in-process runs tell the truth.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from pathlib import Path

import pytest

from target_events.cli import main
from target_events.config.settings import CONFIG_SCHEMA
from target_events.target import TargetEvents
from tests.helpers import TARGET, run_target

SECRETS = {
    "aws_secret_access_key": "SECRETKEY-hostile-7f3a",
    "aws_session_token": "SESSIONTOKEN-hostile-91bc",
}
SCHEMA = copy.deepcopy(TargetEvents.config_jsonschema)
TargetEvents.append_builtin_config(SCHEMA)
OURS = set(CONFIG_SCHEMA["properties"])

WRONG_TYPES = {
    "string": [12345, ["a", "b"], {"a": 1}, 10**30, True],
    "integer": ["abc", 1.5, [1], {"n": 1}, True],
    "number": ["lots", [1.0], {"n": 1}, True],
    "boolean": ["maybe", 1, [True], {"b": True}],
    "object": ["x", [1], 5, True],
    "array": ["x", 5, {"a": 1}, True, [1], [["a"]]],
}
# Values of the right type that no setting of ours may accept.
HOSTILE = {
    "destination": ["out\nx", "s3://lake/../escape", "s3://Bad_Bucket/x", "s3://lake\\x"],
    "format": ["parquet\n", "..", "xml"],
    "compression": ["zstd\\x", "lz4"],
    "key_template": [
        "{stream}/{run_id}-{seq!s:.0}.{ext}",
        "{stream}/{run_id}/{seq}/../data.{ext}",
        "../{stream}/{run_id}-{seq}.{ext}",
        "/abs/{stream}/{run_id}-{seq}.{ext}",
        "{stream}/{run_id}-{seq}.{nope}",
        "{stream}/{run_id}-{seq}{",
        "{stream}/{run_id}-{seq:.0}",
        "{stream}\\{run_id}-{seq}",
        "{stream}/{run_id}\n{seq}",
        "_manifests/{stream}-{run_id}-{seq}",
    ],
    "partition_by": [
        {"s": {"field": "a", "granularity": "week"}},
        {"s": {"granularity": "day"}},
        {"s": {"field": "a\nb"}},
    ],
    "max_batch_rows": [0, -1, 10**30],
    "max_batch_bytes": [0, -5, 10**30],
    "max_batch_age_seconds": [0, -1, 10**400],
    "on_invalid_record": ["skip\n", "ignore"],
    "qa_mode": ["..", "lenient"],
    "qa_max_row_drift": [-0.5, 10**400],
    "s3_endpoint_url": [
        "http://192.0.2.2:18081\\@127.0.0.1",
        "http://user:pw@127.0.0.1:9000",
        "http://192.0.2.2:18081",
        "http://127.0.0.1:9000\n",
        "http://127.0.0.1:9000/../x",
        "ftp://127.0.0.1",
    ],
    "aws_region": ["us-east-1\nx", "evil.example.com/..", "a\\b"],
    "aws_access_key_id": ["AKIA\r\nX-Injected: 1"],
    "aws_secret_access_key": ["SECRETKEY-hostile-7f3a\n"],
    "aws_session_token": ["SESSIONTOKEN-hostile-91bc\\..\n"],
    "aws_profile": ["nope\nprofile", "no-such-profile-x"],
    "s3_part_size_mb": [0, 4, 10**30, 6000],
    "lake_compact_after_files": [0, 1, -3, 10**30],
    "lake_vacuum_retention_hours": [-1, 10**400],
    "batch_roots": [
        ["relative/batches"],
        ["~nosuchuser/batches"],
        ["s3://lake/batches"],
        ["file://evil.example.com/batches"],
        ["file:///tmp/batches?x=1"],
        ["/tmp/a\x00b"],
        ["ftp://127.0.0.1/batches"],
        [""],
    ],
}
S3_SETTINGS = {"s3_endpoint_url", "aws_region", "aws_access_key_id", "aws_profile"}


def _kind(spec: dict) -> str:
    kinds = spec.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    return next(k for k in kinds if k != "null")


def _cases() -> list[tuple[str, object]]:
    cases = []
    for name, spec in SCHEMA["properties"].items():
        cases += [(name, value) for value in WRONG_TYPES[_kind(spec)]]
        cases += [(name, value) for value in HOSTILE.get(name, [])]
    return cases


def _config(tmp_path: Path, name: str, value: object) -> dict:
    base: dict = {"destination": str(tmp_path / "out")}
    if name in S3_SETTINGS or name in SECRETS:
        base = {"destination": "s3://lake", "s3_endpoint_url": "http://127.0.0.1:9"}
    if name not in SECRETS:
        base.update(SECRETS)  # present and valid: must never leak through another error
    return {**base, name: value}


def _one_error_line(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("target-events:") or "| ERROR" in line or "| CRITICAL" in line
    ]


def _run_in_process(
    tmp_path: Path, config: dict, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    monkeypatch.setattr(sys, "argv", ["target-events", "--config", str(path)])
    stdin = tmp_path / "stdin"
    stdin.write_text("")
    root = logging.getLogger()
    handlers = list(root.handlers)  # the SDK adds a stderr handler per run: drop it after
    try:
        with stdin.open() as handle:
            monkeypatch.setattr(sys, "stdin", handle)
            with pytest.raises(SystemExit) as exited:
                main()
    finally:
        root.handlers[:] = handlers
    out, err = capfd.readouterr()
    return int(exited.value.code or 0), out, err


def test_the_sweep_covers_every_setting_of_the_schema() -> None:
    covered = {name for name, _ in _cases()}
    assert covered == set(SCHEMA["properties"])
    assert set(HOSTILE) <= OURS


@pytest.mark.parametrize(("name", "value"), _cases(), ids=lambda v: repr(v)[:40])
def test_given_a_wrong_or_hostile_setting_when_starting_then_one_line_names_it_and_no_secret(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: object,
) -> None:
    code, out, err = _run_in_process(tmp_path, _config(tmp_path, name, value), capfd, monkeypatch)
    assert code != 0, f"{name}={value!r} was accepted"
    errors = _one_error_line(err)
    assert len(errors) == 1, err
    assert errors[0].startswith(f"target-events: setting '{name}'"), errors[0]
    assert "Traceback" not in err
    assert out == ""
    for secret in (*SECRETS.values(), "hostile"):
        assert secret not in err
    assert not (tmp_path / "out").exists(), "nothing is created before the settings are checked"


def test_given_a_secret_of_the_wrong_type_when_run_as_a_program_then_the_value_never_shows(
    tmp_path: Path,
) -> None:
    number = 123456789012345
    for secret, value in (
        ("aws_secret_access_key", number),
        ("aws_session_token", ["tok-line-1", "tok-line-2"]),
    ):
        config = {
            "destination": "s3://lake",
            "s3_endpoint_url": "http://127.0.0.1:9",
            secret: value,
        }
        run = run_target(tmp_path, config, "")
        assert run.returncode == 1
        assert _one_error_line(run.stderr) == [
            f"target-events: setting '{secret}': expects a string, got "
            + ("integer" if value == number else "list")
        ]
        for shown in (str(number), "tok-line-1", "tok-line-2"):
            assert shown not in run.stderr + run.stdout


def test_given_a_backslash_endpoint_url_when_run_as_a_program_then_refused_before_any_request(
    tmp_path: Path,
) -> None:
    config = {
        "destination": "s3://lake",
        "s3_endpoint_url": "http://192.0.2.2:18081\\@127.0.0.1",
        "aws_access_key_id": "AKIATEST",
        **SECRETS,
    }
    run = run_target(tmp_path, config, "", timeout=60)
    assert run.returncode == 1
    assert _one_error_line(run.stderr) == [
        "target-events: setting 's3_endpoint_url': contains a backslash"
    ]


@pytest.mark.parametrize("text", ['{"destination": "o", "max_batch_age_seconds": NaN}', "{"])
def test_given_a_config_file_that_is_not_a_json_object_then_one_line_says_so(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    monkeypatch.setattr(sys, "argv", ["target-events", "--config", str(path)])
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        root.handlers[:] = handlers
    err = capfd.readouterr().err
    assert exited.value.code == 1
    errors = _one_error_line(err)
    assert len(errors) == 1, err
    assert errors[0].startswith(f"target-events: the config file {path} is not "), errors[0]
    assert "Traceback" not in err


def test_about_never_shows_a_secret_value(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "config.json"
    path.write_text(json.dumps({"destination": str(tmp_path / "out"), **SECRETS}))
    for fmt in ("json", "markdown"):
        done = subprocess.run(
            [TARGET, "--about", "--format", fmt, "--config", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        for secret in SECRETS.values():
            assert secret not in done.stdout + done.stderr
