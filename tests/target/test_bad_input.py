"""Bad input stops with one line naming the stream and input line; nothing that came before is lost."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import TARGET, run_target, singer_lines, write_json

SCHEMA = {
    "type": "SCHEMA",
    "stream": "orders",
    "schema": {"properties": {"Id": {"type": "string"}, "qty": {"type": ["integer", "null"]}}},
    "key_properties": ["Id"],
}


def _good(n: int, start: int = 0) -> list[dict]:
    return [
        {"type": "RECORD", "stream": "orders", "record": {"Id": f"o{i}", "qty": i}}
        for i in range(start, start + n)
    ]


def _rows(out: Path) -> list[dict]:
    files = sorted(out.rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def _config(tmp_path: Path, **extra: object) -> dict:
    return {"destination": str(tmp_path / "out"), "max_batch_rows": 5, **extra}


def test_given_malformed_json_when_reading_then_the_line_is_named_and_earlier_records_are_kept(
    tmp_path: Path,
) -> None:
    lines = (
        singer_lines(SCHEMA, *_good(7), {"type": "STATE", "value": {"at": 7}})
        + '{"type": "RECORD", "stream": "orders", "record": {"Id": "broken"\n'
    )
    run = run_target(tmp_path, _config(tmp_path), lines)
    assert run.returncode == 1
    assert "target-events: input line 10: not a valid JSON message" in run.stderr
    assert "Traceback" not in run.stderr
    assert sorted(r["Id"] for r in _rows(tmp_path / "out")) == [f"o{i}" for i in range(7)]
    assert run.states[-1] == {"at": 7}


def test_given_a_record_before_its_schema_when_reading_then_stream_and_line_are_named(
    tmp_path: Path,
) -> None:
    lines = singer_lines(
        SCHEMA, *_good(2), {"type": "RECORD", "stream": "ghost", "record": {"Id": "x"}}
    )
    run = run_target(tmp_path, _config(tmp_path), lines)
    assert run.returncode == 1
    assert (
        "target-events: stream 'ghost', input line 4: RECORD before any SCHEMA message for this stream"
        in run.stderr
    )
    assert len(_rows(tmp_path / "out")) == 2


@pytest.mark.parametrize("mode", ["fail", "skip", "dead_letter"])
def test_given_a_schema_violating_record_when_each_mode_then_fail_skip_or_dead_letter(
    tmp_path: Path, mode: str
) -> None:
    bad = {"type": "RECORD", "stream": "orders", "record": {"Id": "bad", "qty": "three"}}
    lines = singer_lines(
        SCHEMA, *_good(6), bad, *_good(2, start=6), {"type": "STATE", "value": {"done": True}}
    )
    run = run_target(tmp_path, _config(tmp_path, on_invalid_record=mode), lines)
    message = "stream 'orders', input line 8: field 'qty' expects an integer, got \"three\""
    ids = sorted(r["Id"] for r in _rows(tmp_path / "out"))
    if mode == "fail":
        assert run.returncode == 1
        assert f"target-events: {message}" in run.stderr
        assert ids == sorted(f"o{i}" for i in range(6)), "records before the bad line are written"
        return
    assert run.returncode == 0, run.stderr
    assert message in run.stderr
    assert ids == sorted(f"o{i}" for i in range(8))
    assert run.states[-1] == {"done": True}
    dead = list((tmp_path / "out" / "_dead_letter").rglob("*.jsonl"))
    if mode == "skip":
        assert dead == []
    else:
        [entry] = [json.loads(line) for f in dead for line in f.read_text().splitlines()]
        assert entry["line"] == 8
        assert entry["record"] == {"Id": "bad", "qty": "three"}


def test_given_a_bad_record_inside_a_raw_chunk_then_no_state_after_it_is_passed_on(
    tmp_path: Path,
) -> None:
    """Records of flat streams are converted a chunk at a time, after they are read. A STATE that
    follows a bad record must still never be emitted: the chunk is converted, and the error
    raised, before any later STATE is handled."""
    bad = {"type": "RECORD", "stream": "orders", "record": {"Id": "bad", "qty": 1.5}}
    lines = singer_lines(
        SCHEMA,
        *_good(3),
        {"type": "STATE", "value": {"at": 1}},
        *_good(2, start=3),
        bad,
        *_good(2, start=5),
        {"type": "STATE", "value": {"at": 2}},
        *_good(2, start=7),
    )
    run = run_target(tmp_path, _config(tmp_path, max_batch_rows=1000), lines)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "target-events: stream 'orders', input line 8: field 'qty' expects an integer, got 1.5"
    )
    assert sorted(r["Id"] for r in _rows(tmp_path / "out")) == [f"o{i}" for i in range(5)]
    assert run.states == [{"at": 1}]


@pytest.mark.parametrize("mode", ["fail", "dead_letter"])
def test_given_a_record_without_its_key_then_the_line_is_named_and_the_mode_applies(
    tmp_path: Path, mode: str
) -> None:
    """Found by the fuzz test: a keyless record used to bypass on_invalid_record, and a sink
    holding only dead letters was never drained, so the dead letter was silently dropped."""
    keyless = {"type": "RECORD", "stream": "orders", "record": {"qty": 1}}
    lines = singer_lines(SCHEMA, keyless, {"type": "STATE", "value": {"done": True}})
    run = run_target(tmp_path, _config(tmp_path, on_invalid_record=mode), lines)
    message = "stream 'orders', input line 2: missing key property 'Id'"
    if mode == "fail":
        assert run.returncode == 1
        assert run.stderr.strip().splitlines()[-1] == f"target-events: {message}"
        return
    assert run.returncode == 0, run.stderr
    [dead] = list((tmp_path / "out" / "_dead_letter").rglob("*.jsonl"))
    [entry] = [json.loads(line) for line in dead.read_text().splitlines()]
    assert (entry["line"], entry["record"]) == (2, {"qty": 1})
    assert run.states[-1] == {"done": True}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            b'{"type": "SCHEMA", "stream": "s", "schema": {"properties": {"a": {"type": "string"}}}}\n\xff\xfe garbage\n',
            "input line 2: not a valid JSON message",
        ),
        (b"[1, 2, 3]\n", "input line 1: a Singer message must be a JSON object"),
        (b"[" * 100_000 + b"\n", "input line 1: JSON nested too deeply to be a Singer message"),
        (b'{"type": "BOGUS"}\n', "input line 1: unknown or missing message type 'BOGUS'"),
        (b'{"stream": "s"}\n', "input line 1: unknown or missing message type None"),
    ],
)
def test_given_garbage_input_when_reading_then_a_clear_line_error_not_a_traceback(
    tmp_path: Path, payload: bytes, expected: str
) -> None:
    run = run_target(tmp_path, _config(tmp_path), payload)
    assert run.returncode == 1
    assert expected in run.stderr
    assert "Traceback" not in run.stderr


def _last_line(stderr: str) -> str:
    return stderr.strip().splitlines()[-1]


def test_given_a_megabyte_message_type_then_the_error_names_it_cut_short(tmp_path: Path) -> None:
    """Found by the hostile-input sweep (#27): the unknown type was quoted whole (the line cut
    only at 800 characters by the command's last resort)."""
    payload = json.dumps({"type": "B" * 1_000_000, "x": "y" * 1_000_000}).encode() + b"\n"
    run = run_target(tmp_path, _config(tmp_path), payload)
    assert run.returncode == 1
    line = _last_line(run.stderr)
    assert line.startswith("target-events: input line 1: unknown or missing message type 'BBB")
    assert line.endswith("BBB...")
    assert len(line) < 160


def test_given_a_megabyte_stream_name_then_the_error_names_it_cut_short(tmp_path: Path) -> None:
    record = {"type": "RECORD", "stream": "s" * 1_000_000, "record": {"Id": "x"}}
    run = run_target(tmp_path, _config(tmp_path), singer_lines(SCHEMA, record))
    assert run.returncode == 1
    line = _last_line(run.stderr)
    assert line.startswith("target-events: stream 'sss")
    assert "...', input line 2: RECORD before any SCHEMA message for this stream" in line
    assert len(line) < 200


def test_given_a_stream_that_is_not_a_string_then_one_line_names_the_input_line(
    tmp_path: Path,
) -> None:
    """A list as the stream ended in "unhashable type: 'list'", quoting the list whole."""
    schema = {**SCHEMA, "stream": [["orders"] * 1000]}
    run = run_target(tmp_path, _config(tmp_path), singer_lines(schema))
    assert run.returncode == 1
    assert _last_line(run.stderr) == (
        "target-events: input line 1: a SCHEMA message's stream must be a string, got list"
    )


_NOT_A_TYPE = "not a JSON Schema type name (array, boolean, integer, null, number, object, string)"


@pytest.mark.parametrize(
    ("schema", "where", "shown"),
    [
        ({"type": None, "properties": {"Id": {"type": "string"}}}, "SCHEMA's schema", "null"),
        ({"properties": {"Id": {"type": None}}}, "SCHEMA property 'Id'", "null"),
        ({"properties": {"Id": {"type": ["string", None]}}}, "SCHEMA property 'Id'", '["string", null]'),
        ({"properties": {"Id": {"type": "string"}, "tags": {"type": "array", "items": {"type": None}}}},
         "SCHEMA property 'tags.items'", "null"),
        ({"properties": {"Id": {"anyOf": [{"type": "string"}, {"type": "x" * 100_000}]}}},
         "SCHEMA property 'Id.anyOf'", '"' + "x" * 56 + "..."),
    ],
)  # fmt: skip
def test_given_a_schema_whose_type_is_null_then_it_is_refused_at_schema_time(
    tmp_path: Path, schema: dict, where: str, shown: str
) -> None:
    """Found by the hostile-input sweep (#27): the SDK's own check refused it naming neither the
    stream nor the input line (the root's null type: "missing required properties")."""
    message = {"type": "SCHEMA", "stream": "orders", "schema": schema, "key_properties": ["Id"]}
    run = run_target(tmp_path, _config(tmp_path), singer_lines(message, *_good(1)))
    assert run.returncode == 1
    assert _last_line(run.stderr) == (
        f"target-events: stream 'orders', input line 1: {where} has \"type\" {shown}: "
        f"{_NOT_A_TYPE} or a list of them"
    )
    assert "Traceback" not in run.stderr


def _nested_schema(levels: int) -> dict:
    """A SCHEMA whose property ``a`` nests objects ``levels`` deep (two JSON levels each)."""
    spec: dict = {"type": "string"}
    for _ in range(levels):
        spec = {"type": "object", "properties": {"a": spec}}
    return {"type": "SCHEMA", "stream": "deep", "schema": {"properties": {"a": spec}}}


def _deep_json(levels: int) -> str:
    """``_nested_schema(levels)`` as JSON text, written without json.dumps' recursion."""
    head = '{"type": "object", "properties": {"a": ' * levels
    inner = head + '{"type": "string"}' + "}}" * levels
    return f'{{"type": "SCHEMA", "stream": "deep", "schema": {{"properties": {{"a": {inner}}}}}}}\n'


def test_given_a_schema_nested_900_deep_then_one_line_names_the_input_line(
    tmp_path: Path,
) -> None:
    """Found by the hostile-input sweep (#27): msgspec parses 900 levels, then a recursive walk
    of the schema ended the run without naming the input line. The reader now bounds every
    message but a RECORD at 100 levels, as the config and state files are bounded."""
    lines = singer_lines(SCHEMA, *_good(2)) + _deep_json(450)
    run = run_target(tmp_path, _config(tmp_path), lines)
    assert run.returncode == 1
    assert _last_line(run.stderr) == (
        "target-events: stream 'deep', input line 4: SCHEMA message nested deeper than 100 levels"
    )
    assert len(_rows(tmp_path / "out")) == 2, "records before the bad line are written"


def test_given_a_schema_nested_within_the_bound_then_it_is_accepted(tmp_path: Path) -> None:
    assert json.loads(_deep_json(3)) == _nested_schema(3)
    run = run_target(tmp_path, _config(tmp_path), _deep_json(45))  # 95 levels
    assert run.returncode == 0, run.stderr


def test_given_a_mapped_record_nested_900_deep_then_one_line_names_the_input_line(
    tmp_path: Path,
) -> None:
    """A RECORD is not depth-bounded (a deep record is data); one too deep for the per-record
    check, on a stream with stream maps (checked as it is read), names its line."""
    head = json.dumps({"type": "RECORD", "stream": "orders", "record": {"Id": "x"}})
    deep = head.replace('"x"', "[" * 900 + "]" * 900).encode()
    config = _config(tmp_path, stream_maps={"orders": {"extra": "str(1)"}})
    run = run_target(tmp_path, config, singer_lines(SCHEMA).encode() + deep + b"\n")
    assert run.returncode == 1
    assert _last_line(run.stderr) == (
        "target-events: stream 'orders', input line 2: nested too deeply to process"
    )


def test_given_a_huge_and_deeply_nested_record_when_written_then_it_round_trips(
    tmp_path: Path,
) -> None:
    nested: dict = {"leaf": "x"}
    for _ in range(60):
        nested = {"child": nested}
    schema = {
        "type": "SCHEMA",
        "stream": "big",
        "schema": {
            "properties": {
                "Id": {"type": "string"},
                "blob": {"type": "string"},
                "tree": {"type": "object"},
            }
        },
        "key_properties": ["Id"],
    }
    record = {
        "type": "RECORD",
        "stream": "big",
        "record": {"Id": "1", "blob": "z" * 5_000_000, "tree": nested},
    }
    run = run_target(tmp_path, _config(tmp_path), singer_lines(schema, record))
    assert run.returncode == 0, run.stderr
    [row] = _rows(tmp_path / "out")
    assert len(row["blob"]) == 5_000_000
    assert json.loads(row["tree"]) == nested


def test_given_a_run_stopped_by_bad_input_then_no_temporary_files_are_left_behind(
    tmp_path: Path,
) -> None:
    """The quality check's spilled keys live in the system temp folder: removed on failure too."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    lines = singer_lines(SCHEMA, *_good(6)).encode() + b"{broken\n"
    config = write_json(tmp_path / "config.json", _config(tmp_path))
    done = subprocess.run(
        [TARGET, "--config", str(config)],
        input=lines,
        capture_output=True,
        env={**os.environ, "TMPDIR": str(temp)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert len(_rows(tmp_path / "out")) == 6, "records before the bad line are written"
    assert list(temp.iterdir()) == []
