"""Every setting --about advertises is honoured; the SDK built-ins this target cannot honour are
neither advertised nor silently ignored (``load_method: overwrite`` used to append)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers import TARGET, run_target, singer_lines

LINES = singer_lines(
    {"type": "SCHEMA", "stream": "s", "schema": {"properties": {"Id": {"type": "string"}}}},
    {"type": "RECORD", "stream": "s", "record": {"Id": "a"}},
    {"type": "STATE", "value": {"n": 1}},
)


def test_given_about_then_load_method_and_batch_size_rows_are_not_advertised() -> None:
    about = subprocess.run(
        [TARGET, "--about", "--format", "json"], capture_output=True, text=True, check=True
    )
    settings = json.loads(about.stdout)["settings"]["properties"]
    assert "load_method" not in settings
    assert "batch_size_rows" not in settings
    assert "max_batch_rows" in settings


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("load_method", "overwrite", "setting 'load_method': 'overwrite' is not supported"),
        ("load_method", "upsert", "setting 'load_method': 'upsert' is not supported"),
        (
            "batch_size_rows",
            10,
            "setting 'batch_size_rows': a value is not supported: use max_batch_rows",
        ),
    ],
)
def test_given_a_builtin_the_target_cannot_honour_then_the_run_stops_before_writing(
    tmp_path: Path, setting: str, value: object, expected: str
) -> None:
    out = tmp_path / "out"
    run = run_target(tmp_path, {"destination": str(out), setting: value}, LINES)
    assert run.returncode == 1
    assert expected in run.stderr
    assert "Traceback" not in run.stderr
    assert run.states == []
    assert not out.exists() or not any(out.rglob("*.parquet"))


def test_given_load_method_append_only_then_runs_append_as_documented(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for _ in range(2):
        run = run_target(tmp_path, {"destination": str(out), "load_method": "append-only"}, LINES)
        assert run.returncode == 0, run.stderr
    assert len(list((out / "s").glob("*.parquet"))) == 2
