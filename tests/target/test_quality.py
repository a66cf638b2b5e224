"""The data-quality check after each run: figures in the manifest, findings injected on purpose."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_target, singer_lines

SCHEMA = {
    "type": "object",
    "properties": {
        "Id": {"type": "string"},
        "Name": {"type": ["string", "null"]},
        "Amount": {"type": ["number", "null"]},
    },
}


def _stream(records: list[dict], schema: dict = SCHEMA, stream: str = "Deal") -> str:
    messages = [{"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["Id"]}]
    messages += [{"type": "RECORD", "stream": stream, "record": r} for r in records]
    messages.append({"type": "STATE", "value": {"bookmarks": {stream: {"n": len(records)}}}})
    return singer_lines(*messages)


def _deals(count: int, start: int = 0) -> list[dict]:
    return [
        {"Id": f"006{n:015d}", "Name": None if n % 4 == 0 else f"Deal {n}", "Amount": float(n)}
        for n in range(start, start + count)
    ]


def _manifests(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((root / "_manifests").glob("*.json"))]


def test_given_a_clean_run_then_the_manifest_carries_counts_nulls_schema_and_no_findings(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    run = run_target(
        tmp_path, {"destination": str(out), "max_batch_rows": 30}, _stream(_deals(100))
    )
    assert run.returncode == 0, run.stderr
    [manifest] = _manifests(out)
    quality = manifest["quality"]
    assert quality["passed"] is True
    assert quality["findings"] == []
    deal = quality["streams"]["Deal"]
    assert deal["rows"] == 100
    assert deal["null_ratios"] == {"Id": 0.0, "Name": 0.25, "Amount": 0.0}
    assert deal["columns"] == {"Id": "string", "Name": "string", "Amount": "double"}
    assert (deal["duplicate_keys"], deal["null_keys"]) == (0, 0)
    assert manifest["streams"]["Deal"]["columns"] == deal["columns"]


def test_given_duplicates_across_batches_then_advisory_warns_and_strict_fails_after_writing(
    tmp_path: Path,
) -> None:
    records = _deals(50) + _deals(3, start=10) + _deals(1, start=10)
    for mode in ("advisory", "strict"):
        out = tmp_path / mode
        config = {"destination": str(out), "max_batch_rows": 20, "qa_mode": mode}
        run = run_target(tmp_path, config, _stream(records))
        expected = (
            "stream 'Deal': 4 duplicate key(s) on (Id), e.g. '006000000000000010' x3,"
            " '006000000000000011' x2, '006000000000000012' x2"
        )
        [manifest] = _manifests(out)
        assert manifest["quality"]["findings"] == [expected]
        assert manifest["streams"]["Deal"]["rows"] == 54, "every row is written either way"
        assert run.states, "the STATE of written data is passed on before the verdict"
        if mode == "advisory":
            assert run.returncode == 0, run.stderr
            assert f"Data quality: {expected}" in run.stderr
        else:
            assert run.returncode == 1
            assert run.stderr.strip().splitlines()[-1] == (
                f"target-events: data quality check failed (qa_mode strict): {expected}; "
                f"see _manifests/{manifest['run_id']}.json"
            )


def test_given_a_second_run_with_fewer_rows_and_a_changed_schema_then_drift_and_change_are_reported(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    config = {"destination": str(out), "qa_mode": "strict", "qa_max_row_drift": 0.5}
    first = run_target(tmp_path, config, _stream(_deals(100)))
    assert first.returncode == 0, first.stderr
    changed = {
        "type": "object",
        "properties": {
            "Id": {"type": "string"},
            "Name": {"type": ["string", "null"]},
            "Amount": {"type": ["string", "null"]},
            "Stage": {"type": ["string", "null"]},
        },
    }
    records = [{"Id": f"006{n:015d}", "Name": "x", "Amount": "1", "Stage": "A"} for n in range(30)]
    second = run_target(tmp_path, config, _stream(records, schema=changed))
    assert second.returncode == 1
    previous_run = _manifests(out)[0]["run_id"]
    findings = _manifests(out)[1]["quality"]["findings"]
    assert findings == [
        f"stream 'Deal': 30 rows is -70.0% against 100 in run {previous_run} (limit ±50%)",
        f"stream 'Deal': schema changed since run {previous_run}: added Stage (string); retyped Amount double -> string",
    ]
    assert (
        second.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"target-events: data quality check failed (qa_mode strict): {findings[0]} (+1 more finding(s))"
        )
    )
    third = run_target(tmp_path, config, _stream(_deals(5), stream="Other"))
    assert third.returncode == 1
    assert _manifests(out)[2]["quality"]["findings"] == [
        f"stream 'Deal': had 30 rows in run {_manifests(out)[1]['run_id']} and none in this run"
    ]


def test_given_null_keys_and_qa_off_then_off_checks_nothing(tmp_path: Path) -> None:
    records = [{"Id": None, "Name": "a", "Amount": 1.0}, {"Id": "x", "Name": "b", "Amount": 2.0}]
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "Id": {"type": ["string", "null"]}}}
    out = tmp_path / "strict"
    run = run_target(
        tmp_path, {"destination": str(out), "qa_mode": "strict"}, _stream(records, schema)
    )
    assert run.returncode == 1
    assert "stream 'Deal': 1 row(s) with a null key (Id)" in run.stderr
    off = tmp_path / "off"
    run = run_target(
        tmp_path, {"destination": str(off), "qa_mode": "off"}, _stream(records, schema)
    )
    assert run.returncode == 0, run.stderr
    assert _manifests(off)[0]["quality"] is None
