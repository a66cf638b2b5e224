"""The data-quality check after each run: figures in the manifest, findings injected on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthetic_org import SandboxOrg
from target_events.run.run_kind import bookmarked_streams
from tests.helpers import run_tap, run_target, singer_lines, tap_config

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
    # A null key is an invalid record at input (never a row), before any quality check.
    assert "stream 'Deal', input line 2: key property 'Id' is null" in run.stderr
    off = tmp_path / "off"
    run = run_target(
        tmp_path,
        {"destination": str(off), "qa_mode": "off", "on_invalid_record": "skip"},
        _stream(records, schema),
    )
    assert run.returncode == 0, run.stderr
    assert _manifests(off)[0]["quality"] is None


def _bookmarks(*streams: str) -> dict:
    return {
        "type": "STATE",
        "value": {"bookmarks": {s: {"replication_key_value": "2025-01-01"} for s in streams}},
    }


def _incremental(records: list[dict], bookmarked: tuple[str, ...] = ("Deal", "Other")) -> str:
    """As a Singer SDK tap started from a state writes it: that state first, then the streams."""
    schema = {"type": "SCHEMA", "stream": "Deal", "schema": SCHEMA, "key_properties": ["Id"]}
    messages = [_bookmarks(*bookmarked), schema]
    messages += [{"type": "RECORD", "stream": "Deal", "record": r} for r in records]
    messages.append(_bookmarks(*bookmarked))
    return singer_lines(*messages)


def test_given_incremental_runs_after_a_full_load_then_drift_compares_like_with_like(
    tmp_path: Path,
) -> None:
    """An incremental run (its bookmark came before its SCHEMA) is never compared with a full
    load, nor is a stream that found nothing new reported missing; drift between incremental
    runs, and between full loads, is still judged."""
    out = tmp_path / "out"
    config = {"destination": str(out), "qa_mode": "strict", "qa_max_row_drift": 0.5}
    full = _stream(_deals(100)) + _stream(_deals(10), stream="Other")
    assert run_target(tmp_path, config, full).returncode == 0
    second = run_target(tmp_path, config, _incremental(_deals(5, start=100)))
    assert second.returncode == 0, second.stderr
    third = run_target(tmp_path, config, _incremental(_deals(6, start=105)))
    assert third.returncode == 0, third.stderr
    manifests = _manifests(out)
    assert [m["streams"]["Other"].get("load") for m in manifests[:1]] == ["full"]
    assert [m["streams"]["Deal"]["load"] for m in manifests] == [
        "full",
        "incremental",
        "incremental",
    ]
    assert manifests[1]["quality"]["findings"] == []
    assert (
        manifests[2]["quality"]["streams"]["Deal"]["drift_against_run_id"]
        == (manifests[1]["run_id"])
    )
    assert manifests[2]["quality"]["streams"]["Deal"]["row_drift"] == 0.2
    fourth = run_target(tmp_path, config, _incremental(_deals(30, start=111)))
    assert fourth.returncode == 1
    assert _manifests(out)[3]["quality"]["findings"] == [
        f"stream 'Deal': 30 rows is +400.0% against 6 in run {manifests[2]['run_id']} (limit ±50%)"
    ]
    fifth = run_target(tmp_path, config, _stream(_deals(90)) + _stream(_deals(9), stream="Other"))
    assert fifth.returncode == 0, fifth.stderr
    assert (
        _manifests(out)[4]["quality"]["streams"]["Deal"]["drift_against_run_id"]
        == (manifests[0]["run_id"])
    )


def test_given_the_tap_run_twice_from_its_state_when_strict_then_the_incremental_run_passes(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    """The second `make demo`: an incremental run of every stream after a full load."""
    out = tmp_path / "out"
    config = {"destination": str(out), "qa_mode": "strict"}
    tap = tap_config(small_org)
    first = run_target(tmp_path, config, run_tap(tmp_path, tap).stdout)
    assert first.returncode == 0, first.stderr
    second_tap = run_tap(tmp_path, tap, state=first.states[-1])
    assert second_tap.returncode == 0, second_tap.stderr
    second = run_target(tmp_path, config, second_tap.stdout)
    assert second.returncode == 0, second.stderr[-2000:]
    full, incremental = _manifests(out)
    assert incremental["quality"]["findings"] == []
    assert {s["load"] for s in full["streams"].values()} == {"full"}
    # history_tracked_fields and ContentDocumentLink (read through its documents) have no
    # replication key: a full load each run, compared as such.
    reloaded = {n for n, s in incremental["streams"].items() if s["load"] != "incremental"}
    assert reloaded <= {"history_tracked_fields", "ContentDocumentLink"}
    assert len(incremental["streams"]) > len(reloaded)


@pytest.mark.parametrize(
    ("state", "bookmarked"),
    [
        ({"bookmarks": {"A": {"replication_key_value": "x"}, "B": {}}}, {"A"}),
        (
            {"bookmarks": {"E": {"partitions": [{"context": {}, "replication_key_value": 1}]}}},
            {"E"},
        ),
        ({"bookmarks": {"E": {"partitions": [{"context": {}}]}}}, set()),
        ({"bookmarks": ["A"]}, set()),
        ([], set()),
    ],
)
def test_given_a_state_then_streams_with_a_replication_key_value_are_bookmarked(
    state: object, bookmarked: set[str]
) -> None:
    assert bookmarked_streams(state) == bookmarked
