"""Random and truncated Singer streams (hypothesis): the target never ends with a traceback.

Each example is a mix of valid messages, records that break their schema, records for unknown
streams, truncated lines, garbage bytes, invalid UTF-8 and deep nesting, fed to the real
``target-events`` process. Whatever the input, the run ends with exit 0, or exit 1 and one
``target-events: ...`` line naming the problem; no half-written file is ever visible; and under
``on_invalid_record: dead_letter`` a stream of valid JSON messages never fails.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import TARGET, write_json

SCHEMA = {
    "type": "object",
    "properties": {
        "Id": {"type": "string"},
        "n": {"type": ["integer", "null"]},
        "x": {"type": ["number", "null"]},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "ok": {"type": ["boolean", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "meta": {"type": ["object", "null"]},
    },
}
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # json.dumps would write Infinity: not JSON
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
GOOD_RECORDS = st.fixed_dictionaries(
    {"Id": st.text(min_size=1, max_size=12)},
    optional={
        "n": st.none() | st.integers(-(2**63), 2**63 - 1),
        "x": st.none() | st.floats(allow_nan=False, allow_infinity=False),
        "at": st.none() | st.datetimes().map(lambda d: d.isoformat() + "Z"),
        "ok": st.none() | st.booleans(),
        "tags": st.none() | st.lists(st.text(max_size=8), max_size=3),
        "meta": st.none() | st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3),
    },
)
BAD_RECORDS = st.dictionaries(st.sampled_from([*SCHEMA["properties"], "extra"]), JSON_VALUES)


def _line(message: dict) -> bytes:
    return json.dumps(message).encode() + b"\n"


def _schema(stream: str) -> bytes:
    return _line({"type": "SCHEMA", "stream": stream, "schema": SCHEMA, "key_properties": ["Id"]})


MESSAGES = st.one_of(
    st.tuples(st.sampled_from(["a", "b"]), GOOD_RECORDS).map(
        lambda p: _line({"type": "RECORD", "stream": p[0], "record": p[1]})
    ),
    st.tuples(st.sampled_from(["a", "b", "unknown"]), BAD_RECORDS).map(
        lambda p: _line({"type": "RECORD", "stream": p[0], "record": p[1]})
    ),
    st.sampled_from(["a", "b", "../../escape"]).map(_schema),
    st.integers(0, 10**6).map(lambda n: _line({"type": "STATE", "value": {"n": n}})),
    st.just(_line({"type": "ACTIVATE_VERSION", "stream": "a", "version": 1})),
    st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=3).map(_line),
    st.binary(max_size=40).map(lambda b: b + b"\n"),
    st.just(b"\xff\xfe not utf-8 \xc3\x28\n"),
    st.just(b"[" * 5000 + b"\n"),
    st.just(b"\n"),
)


@st.composite
def singer_streams(draw: st.DrawFn, *, valid_json_only: bool) -> bytes:
    body = [_schema("a"), _schema("b")]
    if valid_json_only:
        records = st.tuples(st.sampled_from(["a", "b"]), GOOD_RECORDS | BAD_RECORDS).map(
            lambda p: _line({"type": "RECORD", "stream": p[0], "record": p[1]})
        )
        states = st.integers(0, 100).map(lambda n: _line({"type": "STATE", "value": {"n": n}}))
        body += draw(st.lists(records | states, max_size=30))
        return b"".join(body)
    body += draw(st.lists(MESSAGES, max_size=30))
    data = b"".join(body)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


def _run(tmp_path: Path, data: bytes, **config: object) -> subprocess.CompletedProcess[bytes]:
    out = tmp_path / "out"
    path = write_json(
        tmp_path / "config.json", {"destination": str(out), "max_batch_rows": 7, **config}
    )
    return subprocess.run(
        [TARGET, "--config", str(path)], input=data, capture_output=True, timeout=60, check=False
    )


def _assert_clean_end(done: subprocess.CompletedProcess[bytes], out: Path) -> None:
    stderr = done.stderr.decode(errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    assert done.returncode in (0, 1), stderr[-3000:]
    if done.returncode == 1:
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("target-events: "), last
        assert "\n" not in last
    if out.exists():
        visible = [p for p in out.rglob("*") if p.is_file()]
        assert not any(p.name.endswith(".tmp") for p in visible), visible
        for path in visible:
            if path.suffix == ".parquet":
                pq.read_table(path)  # every visible file is complete
            assert out.resolve() in path.resolve().parents


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=singer_streams(valid_json_only=False))
def test_given_random_and_truncated_streams_then_exit_0_or_one_clear_line(
    tmp_path_factory, data: bytes
) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz")
    done = _run(tmp, data)
    _assert_clean_end(done, tmp / "out")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=singer_streams(valid_json_only=True))
def test_given_valid_json_with_invalid_records_and_dead_letter_then_the_run_succeeds(
    tmp_path_factory, data: bytes
) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("fuzz-dead-letter")
    done = _run(tmp, data, on_invalid_record="dead_letter")
    _assert_clean_end(done, tmp / "out")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    invalid = sum(
        1
        for path in (tmp / "out" / "_dead_letter").rglob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ) if (tmp / "out" / "_dead_letter").exists() else 0  # fmt: skip
    written = sum(
        pq.read_metadata(p).num_rows for p in (tmp / "out").rglob("*.parquet")
    ) if (tmp / "out").exists() else 0  # fmt: skip
    records = data.count(b'"type": "RECORD"')
    assert written + invalid == records, "every record is either written or dead-lettered"
