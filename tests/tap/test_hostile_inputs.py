"""Hostile input files and values (issue #27): each ends in one line naming it, never a traceback.

NaN and Infinity (not JSON, but Python's parsers take them), a file nested 50,000 deep, a STATE
that lists one partition twice, object filters with a date that overflows or digits that are not
ASCII, and a public key pasted as ``private_key``. The real CLIs run as subprocesses.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.helpers import TAP, TARGET, run_tap

EMBEDDED = {"embedded_org": True, "embedded_org_scale": 5}
DEEP = "[" * 50_000 + "]" * 50_000


def _one_line(stderr: str, prefix: str) -> str:
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


def _tap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TAP, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("option", ["--config", "--catalog", "--state"])
def test_given_nan_or_infinity_in_a_tap_file_then_one_line_names_the_file(
    tmp_path: Path, option: str, constant: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(EMBEDDED))
    hostile = tmp_path / "hostile.json"
    hostile.write_text(
        {
            "--config": f'{{"embedded_org": true, "embedded_org_scale": {constant}}}',
            "--catalog": f'{{"streams": [], "x": {constant}}}',
            "--state": f'{{"bookmarks": {{}}, "x": [{constant}]}}',
        }[option]
    )
    args = {"--config": str(config), option: str(hostile)}
    done = _tap(*[part for pair in args.items() for part in pair])
    assert done.returncode == 1
    line = _one_line(done.stderr, "tap-salesforce-temporal:")
    assert f"{option} file {hostile}: not valid JSON ({constant} is not a JSON value)" in line
    assert done.stdout == ""


@pytest.mark.parametrize("option", ["--config", "--catalog", "--state"])
def test_given_a_tap_file_nested_50000_deep_then_one_line_names_the_file(
    tmp_path: Path, option: str
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(EMBEDDED))
    deep = tmp_path / "deep.json"
    deep.write_text('{"a": ' + DEEP + "}")
    args = {"--config": str(config), option: str(deep)}
    done = _tap(*[part for pair in args.items() for part in pair], "--discover")
    assert done.returncode == 1
    line = _one_line(done.stderr, "tap-salesforce-temporal:")
    assert f"{option} file {deep}: not valid JSON (nested deeper than 100 levels)" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"destination": "out", "max_batch_rows": NaN}',
            "is not valid JSON: NaN is not a JSON value",
        ),
        (
            '{"destination": "out", "x": -Infinity}',
            "is not valid JSON: -Infinity is not a JSON value",
        ),
        (DEEP, "is not valid JSON: nested deeper than 100 levels"),
        ("[1, 2]", "must hold a JSON object, got list"),
    ],
)
def test_given_a_hostile_target_config_file_then_one_line_names_it(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "target.json"
    path.write_text(content)
    done = subprocess.run(
        [TARGET, "--config", str(path)], input="", capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert _one_line(done.stderr, "target-events:") == (
        f"target-events: the config file {path} {message}"
    )


def test_given_events_partitions_listing_one_context_twice_then_one_line_names_the_stream(
    tmp_path: Path,
) -> None:
    """Refused, not resolved: which of the two bookmarks is right cannot be known."""
    context = {"source_object": "OpportunityHistory"}
    partitions = [
        {"context": context, "replication_key": "SystemModstamp",
         "replication_key_value": "2020-01-01T00:00:00.000Z"},
        {"context": context, "replication_key": "SystemModstamp",
         "replication_key_value": "2021-01-01T00:00:00.000Z"},
    ]  # fmt: skip
    state = {"bookmarks": {"micro_decision_events": {"partitions": partitions}}}
    run = run_tap(tmp_path, {**EMBEDDED, "objects": ["OpportunityHistory"]}, state=state)
    assert run.returncode == 1
    assert _one_line(run.stderr, "tap-salesforce-temporal:") == (
        "tap-salesforce-temporal: STATE: bookmarks.micro_decision_events.partitions[1] has the "
        'same context as partitions[0] ({"source_object": "OpportunityHistory"}); keep one of '
        "the two bookmarks"
    )
    assert run.stdout == ""


def test_given_a_partition_without_context_then_one_line_names_it(tmp_path: Path) -> None:
    state = {"bookmarks": {"micro_decision_events": {"partitions": [{"replication_key": "x"}]}}}
    run = run_tap(tmp_path, {**EMBEDDED, "objects": ["OpportunityHistory"]}, state=state)
    assert run.returncode == 1
    assert "STATE: bookmarks.micro_decision_events.partitions[0] has no 'context' object" in (
        _one_line(run.stderr, "tap-salesforce-temporal:")
    )


@pytest.mark.parametrize("discover", [True, False])
@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            "SystemModstamp > 9999-12-31T23:59:59-01:00",
            "Opportunity: date '9999-12-31T23:59:59-01:00' at column 18 is outside the dates "
            "Salesforce accepts (1700-01-01 to 4000-12-31)",
        ),
        (
            "Amount > \u0661\u0662\u0663",
            "Opportunity: non-ASCII digit '\u0661' (U+0661) at column 10: SOQL takes the digits "
            "0-9 and ASCII spaces only",
        ),
        (
            "Amount > \uff11",
            "Opportunity: non-ASCII digit '\uff11' (U+FF11) at column 10",
        ),
    ],
)
def test_given_an_object_filter_with_an_overflowing_date_or_non_ascii_digits_then_one_line(
    tmp_path: Path, condition: str, message: str, discover: bool
) -> None:
    config = {**EMBEDDED, "objects": ["Opportunity"], "object_filters": {"Opportunity": condition}}
    run = run_tap(tmp_path, config, discover=discover)
    assert run.returncode == 1
    line = _one_line(run.stderr, "tap-salesforce-temporal:")
    assert line.startswith(f"tap-salesforce-temporal: setting 'object_filters': {message}")
    assert run.stdout == ""


def _pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, openssh: bool) -> str:
    if openssh:
        return (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode()
        )
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("openssh", [False, True], ids=["pem", "openssh"])
def test_given_the_public_key_pasted_as_private_key_then_one_line_names_the_setting(
    tmp_path: Path, openssh: bool
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = _pem_public(key, openssh)
    config = {"auth_flow": "jwt", "client_id": "c", "username": "u@example.com",
              "private_key": public, "domain": "http://127.0.0.1:9"}  # fmt: skip
    run = run_tap(tmp_path, config, discover=True)
    assert run.returncode == 1
    line = _one_line(run.stderr, "tap-salesforce-temporal:")
    assert line.startswith(
        "tap-salesforce-temporal: setting 'private_key': not a valid PEM RSA private key for "
        "auth_flow=jwt: it is a public key"
    )
    body = [part for part in public.split() if len(part) > 20]
    assert not any(part in run.stderr for part in body), "the key is never echoed"


def test_given_an_ec_private_key_then_one_line_names_the_setting(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    config = {"auth_flow": "jwt", "client_id": "c", "username": "u@example.com",
              "private_key": pem, "domain": "http://127.0.0.1:9"}  # fmt: skip
    run = run_tap(tmp_path, config, discover=True)
    assert run.returncode == 1
    assert "setting 'private_key': not a valid PEM RSA private key" in _one_line(
        run.stderr, "tap-salesforce-temporal:"
    )


# -- what the generated sweep (tests/reliability/test_input_sweep.py) found, kept as cases --
CATALOG = {
    "streams": [
        {
            "tap_stream_id": "Account",
            "schema": {"type": "object", "properties": {
                "Id": {"type": "string"},
                "SystemModstamp": {"type": ["string", "null"], "format": "date-time"}}},
            "replication_key": "SystemModstamp",
            "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}],
        }
    ]
}  # fmt: skip


def _catalog_with(path: tuple, value: object) -> dict:
    catalog = json.loads(json.dumps(CATALOG))
    node = catalog
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return catalog


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("streams", 0, "replication_key"), "Nope",
         "Field 'Nope' is not in schema for stream 'Account'"),
        (("streams", 0, "schema", "properties", "SystemModstamp", "format"), "",
         'catalog: streams[0].schema.properties.SystemModstamp is the replication key: it expects "format": "date-time"'),
        (("streams", 0, "metadata", 0), None,
         "catalog: streams[0].metadata[0] expects an object, got null"),
        (("streams", 0, "metadata", 0, "breadcrumb"), 7,
         "catalog: streams[0].metadata[0].breadcrumb expects an array of strings, got number"),
        (("streams",), 5, "catalog: 'streams' expects an array of streams, got number"),
        (("streams", 0, "stream"), "0",
         "catalog: streams[0].stream must equal its tap_stream_id 'Account'"),
        (("streams", 0, "schema", "properties", "Id"), True,
         "catalog: streams[0].schema.properties.Id expects a JSON Schema object, got boolean"),
    ],
)  # fmt: skip
def test_given_a_catalog_the_sdk_cannot_read_then_one_line_names_the_path(
    tmp_path: Path, path: tuple, value: object, message: str
) -> None:
    config = {**EMBEDDED, "objects": ["Account"]}
    run = run_tap(tmp_path, config, catalog=_catalog_with(path, value))
    assert run.returncode == 1
    assert message in _one_line(run.stderr, "tap-salesforce-temporal:")


@pytest.mark.parametrize(
    ("bookmark", "message"),
    [
        ({"partitions": None}, "STATE: bookmarks.Account.partitions expects an array, got null"),
        ({"progress_markers": None}, "STATE: bookmarks.Account.progress_markers expects an object"),
        ({"replication_key": 5}, "STATE: bookmarks.Account.replication_key expects a field name"),
    ],
)
def test_given_state_values_the_sdk_trips_over_then_one_line_names_them(
    tmp_path: Path, bookmark: dict, message: str
) -> None:
    run = run_tap(
        tmp_path, {**EMBEDDED, "objects": ["Account"]}, state={"bookmarks": {"Account": bookmark}}
    )
    assert run.returncode == 1
    assert message in _one_line(run.stderr, "tap-salesforce-temporal:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "argument --port: 99999 is not between 0 and 65535"),
        (["--host", "bad..host"], "synthetic-org: cannot listen on bad..host:0"),
        (["--extra-objects", "99999"], "argument --extra-objects: 99999 is not between 0 and 1296"),
        (["--latency-ms", "nan"], "argument --latency-ms: 'nan' is not between 0 and 60000"),
    ],
)
def test_given_bad_synthetic_org_arguments_then_one_line(args: list[str], message: str) -> None:
    from tests.helpers import BIN

    done = subprocess.run(
        [str(BIN / "synthetic-org"), "serve", "--json", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert _one_line(done.stderr, "synthetic-org").endswith(message) or message in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": None, "properties": {"Id": {"type": "string"}}},
         """target-events: stream 's', input line 1: SCHEMA's schema has "type" null"""),
        ({"type": "object", "properties": {"Id": {"type": "string"}, "a": {"items": "[DEEP]"}}},
         "target-events: stream 's', input line 1: SCHEMA message nested deeper than 100 levels"),
    ],
)  # fmt: skip
def test_given_a_schema_message_that_is_not_a_json_schema_then_one_line(
    tmp_path: Path, schema: dict, message: str
) -> None:
    text = json.dumps({"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["Id"]})
    text = text.replace('"[DEEP]"', "[" * 900 + "]" * 900)
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"destination": str(tmp_path / "out")}))
    done = subprocess.run(
        [TARGET, "--config", str(config)], input=text + "\n", capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert _one_line(done.stderr, "target-events:").startswith(message)


@pytest.mark.parametrize("option", ["--config", "--catalog", "--state"])
def test_given_a_missing_tap_file_then_one_line_names_it(tmp_path: Path, option: str) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(EMBEDDED))
    missing = tmp_path / "missing.json"
    args = {"--config": str(config), option: str(missing)}
    done = _tap(*[part for pair in args.items() for part in pair])
    assert done.returncode == 1
    assert _one_line(done.stderr, "tap-salesforce-temporal:") == (
        f"tap-salesforce-temporal: {option} file {missing}: no such file"
    )


def test_given_a_missing_target_config_then_one_line_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    done = subprocess.run(
        [TARGET, "--config", str(missing)], input="", capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert _one_line(done.stderr, "target-events:") == (
        f"target-events: the config file {missing} does not exist"
    )


def test_given_configs_through_a_pipe_then_they_are_read_once_by_the_sdk(tmp_path: Path) -> None:
    """``--config <(...)`` is a FIFO: the strict pre-read must leave it to the SDK (read once)."""
    import os

    for command, content in ((TAP, EMBEDDED), (TARGET, {"destination": str(tmp_path / "out")})):
        fifo = tmp_path / f"config-{Path(command).name}"
        os.mkfifo(fifo)
        process = subprocess.Popen(
            [command, "--config", str(fifo), "--about"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        fifo.write_text(json.dumps(content))
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err[-2000:]
        assert "Name:" in out
