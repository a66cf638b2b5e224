"""The generated sweep of issue #27: every entry point, every input file, hostile content.

For each command and each file it takes (the tap's config, catalog and state; target-events'
config and its Singer stream; the Airbyte source's config, catalog and state; the synthetic
org's arguments), hypothesis starts from a valid document and breaks it: a wrong type at one of
its paths, NaN or Infinity, nesting 50,000 deep, a truncated or non-UTF-8 file, a string of
megabytes, odd unicode. The real command runs in a child under a time bound and an address-space
bound (RLIMIT_AS). Whatever the input, it ends with exit 0, or a non-zero exit and ONE line that
names the problem (one Airbyte TRACE ERROR with a failure_type for the Airbyte source); a Python
traceback never appears.

Each case runs ``SWEEP_EXAMPLES`` examples (3 by default, derandomized so CI is repeatable);
``make soak`` runs many more, with fresh random inputs.
"""

from __future__ import annotations

import copy
import json
import os
import re
import resource
import signal
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import BIN, TAP, TARGET

SOAK = "SWEEP_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("SWEEP_EXAMPLES", "3"))
TIMEOUT = 120  # seconds: generous, a hang is what it catches
# Address space, not RSS: a bound a runaway allocation hits at once. Threads reserve stacks and
# malloc arenas in it, hence the arena cap in the child's environment.
ADDRESS_SPACE = 4 * 1024**3
TRACEBACK = "Traceback (most recent call last)"
SOURCE = str(BIN / "source-salesforce-temporal")
SYNTHETIC_ORG = str(BIN / "synthetic-org")

SWEEP = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not SOAK,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- valid documents, each the start of its mutations --
TAP_CONFIG = {
    "embedded_org": True,
    "embedded_org_scale": 2,
    "objects": ["Account"],
    "start_date": "2020-01-01T00:00:00Z",
    "object_filters": {"Account": "Name != 'x' AND CreatedDate > 2001-01-01T00:00:00Z"},
    "max_concurrency": 2,
    "event_types": ["field_change"],
    "lookback_window": 0,
}
TAP_CATALOG = {
    "streams": [
        {
            "tap_stream_id": "Account",
            "stream": "Account",
            "schema": {
                "type": "object",
                "properties": {
                    "Id": {"type": "string"},
                    "Name": {"type": ["string", "null"]},
                    "SystemModstamp": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "key_properties": ["Id"],
            "replication_key": "SystemModstamp",
            "replication_method": "INCREMENTAL",
            "metadata": [
                {
                    "breadcrumb": [],
                    "metadata": {
                        "selected": True,
                        "inclusion": "available",
                        "replication-key": "SystemModstamp",
                        "table-key-properties": ["Id"],
                    },
                },
                {"breadcrumb": ["properties", "Id"], "metadata": {"inclusion": "automatic"}},
                {"breadcrumb": ["properties", "Name"], "metadata": {"selected": True}},
            ],
        }
    ]
}
TAP_STATE = {
    "bookmarks": {
        "Account": {
            "replication_key": "SystemModstamp",
            "replication_key_value": "2021-01-01T00:00:00.000Z",
        },
        "micro_decision_events": {
            "partitions": [
                {
                    "context": {"source_object": "OpportunityHistory"},
                    "replication_key": "SystemModstamp",
                    "replication_key_value": "2021-01-01T00:00:00.000Z",
                }
            ]
        },
    },
    "currently_syncing": None,
}
TARGET_CONFIG = {
    "destination": "OUT",
    "format": "parquet",
    "compression": "zstd",
    "max_batch_rows": 10,
    "partition_fields": {"orders": "at"},
    "on_invalid_record": "fail",
}
SINGER_STREAM = [
    {
        "type": "SCHEMA",
        "stream": "orders",
        "schema": {
            "type": "object",
            "properties": {
                "Id": {"type": "string"},
                "qty": {"type": ["integer", "null"]},
                "at": {"type": ["string", "null"], "format": "date-time"},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            },
        },
        "key_properties": ["Id"],
    },
    {"type": "RECORD", "stream": "orders", "record": {"Id": "a", "qty": 1,
                                                       "at": "2024-01-01T00:00:00Z", "tags": ["x"]}},
    {"type": "STATE", "value": {"bookmarks": {"orders": {"at": "2024-01-01T00:00:00Z"}}}},
    {"type": "ACTIVATE_VERSION", "stream": "orders", "version": 1},
]  # fmt: skip
AIRBYTE_CATALOG = {
    "streams": [
        {
            "stream": {
                "name": "Account",
                "json_schema": {},
                "supported_sync_modes": ["full_refresh", "incremental"],
            },
            "sync_mode": "incremental",
            "destination_sync_mode": "append",
            "cursor_field": ["SystemModstamp"],
        }
    ]
}
AIRBYTE_STATE = [
    {
        "type": "STREAM",
        "stream": {
            "stream_descriptor": {"name": "Account"},
            "stream_state": {
                "replication_key": "SystemModstamp",
                "replication_key_value": "2021-01-01T00:00:00.000Z",
            },
        },
    }
]


# -- how a document is broken --
def paths(document: object, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``document``: the root, each key and each index, depth first."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


def replaced(document: object, path: tuple, value: object) -> object:
    if not path:
        return value
    copied = copy.deepcopy(document)
    node = copied
    for part in path[:-1]:
        node = node[part]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return copied


# Placeholders _text turns into what json.dumps cannot write: NaN, Infinity, deep nesting.
NAN = "__sweep_nan__"
DEEP = "__sweep_deep__"
WRONG_VALUES = st.one_of(
    st.sampled_from([None, True, False, 0, -1, 2**64, 1.5, -1e308, "", "x", [], {}, [1], {"a": 1}]),
    st.sampled_from([NAN + "NaN", NAN + "Infinity", NAN + "-Infinity"]),
    st.text(max_size=30),  # unicode, control characters, surrogates escaped by json.dumps
    st.integers(1_000, 3_000_000).map(lambda n: "\u00e9" * n),  # megabytes of text
    st.integers(50, 60_000).map(lambda n: f"{DEEP}{n}"),  # nested n deep (written by _text)
    st.sampled_from(["2024-13-45T00:00:00Z", "9999-12-31T23:59:59-01:00", "\u0661\u0662", "../x"]),
)


def _text(document: object) -> bytes:
    text = json.dumps(document)
    for constant in ("NaN", "Infinity", "-Infinity"):
        text = text.replace(json.dumps(NAN + constant), constant)
    text = re.sub(f'"{DEEP}([0-9]+)"', lambda m: "[" * int(m[1]) + "]" * int(m[1]), text)
    return text.encode()


@st.composite
def broken(draw: st.DrawFn, document: object) -> bytes:
    """``document`` as file content, broken one way."""
    how = draw(st.sampled_from(["value", "value", "value", "text"]))
    if how == "value":
        path = draw(st.sampled_from(paths(document)))
        return _text(replaced(document, path, draw(WRONG_VALUES)))
    text = _text(document)
    return draw(
        st.sampled_from(
            [
                text[: len(text) // 2],
                b"",
                b"\xef\xbb\xbf" + text,  # a byte-order mark
                b"\xff\xfe" + text,
                b"[" * 50_000 + b"]" * 50_000,
                b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
                text.replace(b":", b': NaN, "z":', 1),
                text + b" trailing",
                b"null",
            ]
        )
    )


# -- running a command bounded, and what a clean end looks like --
def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """``args`` in its own folder (a relative path a mutant names lands there), bounded."""
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "PYTHONUNBUFFERED": "1"}
    cwd = Path(args[args.index("--config") + 1]).parent if "--config" in args else None
    try:
        return subprocess.run(
            args, input=stdin, capture_output=True, timeout=TIMEOUT, env=env, cwd=cwd,
            preexec_fn=_bounded, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{args[0]} ran over {TIMEOUT} s: {(expired.stderr or b'')[-2000:]!r}")


def assert_one_line(
    done: subprocess.CompletedProcess[bytes], prefix: str, max_length: int | None = 2_000
) -> None:
    """Exit 0, or exit non-zero with exactly one error line, short and starting with ``prefix``."""
    stderr = done.stderr.decode(errors="replace")
    assert TRACEBACK not in stderr, stderr[-4000:]
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {stderr[-2000:]}"
    if done.returncode == 0:
        return
    errors = [line for line in stderr.splitlines() if line.startswith(prefix) or "| ERROR" in line]
    assert len(errors) == 1, stderr[-4000:]
    if max_length is not None:
        assert len(errors[0]) < max_length, errors[0][:300]


def assert_one_trace(done: subprocess.CompletedProcess[bytes]) -> None:
    """Airbyte messages only on stdout; a failure is exactly one TRACE ERROR with a failure_type."""
    stderr = done.stderr.decode(errors="replace")
    assert TRACEBACK not in stderr, stderr[-4000:]
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {stderr[-2000:]}"
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    errors = [m for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]
    if done.returncode == 0:
        assert not errors, errors
        return
    assert len(errors) == 1, (messages[-3:], stderr[-2000:])
    error = errors[0]["trace"]["error"]
    assert error["failure_type"] in ("config_error", "system_error", "transient_error")
    assert "\n" not in error["message"]
    assert len(error["message"]) < 2_000


def _write(tmp: Path, name: str, content: bytes | object) -> str:
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return str(path)


# -- the tap --
@SWEEP
@given(content=broken(TAP_CONFIG), discover=st.booleans())
def test_tap_config(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, discover: bool
) -> None:
    tmp = tmp_path_factory.mktemp("tap-config")
    args = [TAP, "--config", _write(tmp, "config.json", content)]
    if discover:
        args.append("--discover")
    else:
        args += ["--catalog", _write(tmp, "catalog.json", TAP_CATALOG)]
    assert_one_line(run(args), "tap-salesforce-temporal:")


@SWEEP
@given(content=broken(TAP_CATALOG))
def test_tap_catalog(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    tmp = tmp_path_factory.mktemp("tap-catalog")
    args = [TAP, "--config", _write(tmp, "config.json", TAP_CONFIG),
            "--catalog", _write(tmp, "catalog.json", content)]  # fmt: skip
    assert_one_line(run(args), "tap-salesforce-temporal:")


@SWEEP
@given(content=broken(TAP_STATE))
def test_tap_state(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    tmp = tmp_path_factory.mktemp("tap-state")
    args = [TAP, "--config", _write(tmp, "config.json", TAP_CONFIG),
            "--catalog", _write(tmp, "catalog.json", TAP_CATALOG),
            "--state", _write(tmp, "state.json", content)]  # fmt: skip
    assert_one_line(run(args), "tap-salesforce-temporal:")


def test_tap_about_with_a_broken_config_never_shows_a_traceback(tmp_path: Path) -> None:
    done = run([TAP, "--config", _write(tmp_path, "c.json", b"[" * 50_000), "--about"])
    assert_one_line(done, "tap-salesforce-temporal:")


# -- target-events --
def _target_config(tmp: Path, content: bytes) -> str:
    return _write(
        tmp, "target.json", content.replace(b'"OUT"', json.dumps(str(tmp / "out")).encode())
    )


@SWEEP
@given(content=broken(TARGET_CONFIG))
def test_target_config(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    tmp = tmp_path_factory.mktemp("target-config")
    stdin = b"".join(json.dumps(m).encode() + b"\n" for m in SINGER_STREAM)
    done = run([TARGET, "--config", _target_config(tmp, content)], stdin)
    assert_one_line(done, "target-events:")


@SWEEP
@given(index=st.integers(0, len(SINGER_STREAM) - 1), data=st.data())
def test_target_singer_stream(
    tmp_path_factory: pytest.TempPathFactory, index: int, data: st.DataObject
) -> None:
    """One message of a valid stream broken (the other messages intact)."""
    tmp = tmp_path_factory.mktemp("target-stream")
    lines = [json.dumps(m).encode() for m in SINGER_STREAM]
    lines[index] = data.draw(broken(SINGER_STREAM[index])).replace(b"\n", b" ")
    done = run(
        [TARGET, "--config", _target_config(tmp, _text(TARGET_CONFIG))], b"\n".join(lines) + b"\n"
    )
    assert_one_line(done, "target-events:")


# -- the Airbyte source --
@SWEEP
@given(content=broken(TAP_CONFIG), command=st.sampled_from(["check", "discover"]))
def test_airbyte_config(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, command: str
) -> None:
    tmp = tmp_path_factory.mktemp("airbyte-config")
    assert_one_trace(run([SOURCE, command, "--config", _write(tmp, "config.json", content)]))


@SWEEP
@given(content=broken(AIRBYTE_CATALOG))
def test_airbyte_catalog(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    tmp = tmp_path_factory.mktemp("airbyte-catalog")
    args = [SOURCE, "read", "--config", _write(tmp, "config.json", TAP_CONFIG),
            "--catalog", _write(tmp, "catalog.json", content)]  # fmt: skip
    assert_one_trace(run(args))


@SWEEP
@given(content=broken(AIRBYTE_STATE))
def test_airbyte_state(tmp_path_factory: pytest.TempPathFactory, content: bytes) -> None:
    tmp = tmp_path_factory.mktemp("airbyte-state")
    args = [SOURCE, "read", "--config", _write(tmp, "config.json", TAP_CONFIG),
            "--catalog", _write(tmp, "catalog.json", AIRBYTE_CATALOG),
            "--state", _write(tmp, "state.json", content)]  # fmt: skip
    assert_one_trace(run(args))


def test_airbyte_spec_speaks_the_protocol() -> None:
    done = run([SOURCE, "spec"])
    assert done.returncode == 0
    assert_one_trace(done)


# -- the synthetic org's command line --
ORG_OPTIONS = ["--port", "--host", "--seed", "--scale", "--extra-objects", "--latency-ms",
               "--bulk-job-seconds", "--random-fault-rate", "--fault-503-every",
               "--daily-api-limit", "--query-timeout-days"]  # fmt: skip
ORG_VALUES = st.sampled_from(
    ["-1", "0", "99999", "nan", "inf", "1e400", "x", "", "bad..host", "\u0661", "10000000000"]
)


@SWEEP
@given(option=st.sampled_from(ORG_OPTIONS), value=ORG_VALUES)
def test_synthetic_org_arguments(option: str, value: str) -> None:
    """A serving org prints its URL and runs until stopped: that is success, then stopped."""
    env = {**os.environ, "MALLOC_ARENA_MAX": "2"}
    process = subprocess.Popen(
        [SYNTHETIC_ORG, "serve", "--json", "--scale", "2", option, value],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_bounded,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    if first.startswith(b"{"):
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=TIMEOUT)
        return
    out, err = process.communicate(timeout=TIMEOUT)
    done = subprocess.CompletedProcess(process.args, process.returncode, first + out, err)
    assert_one_line(done, "synthetic-org")
