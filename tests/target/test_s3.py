"""S3 output against moto's S3 server over HTTP, through boto3."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import requests

from tests.conftest import free_port
from tests.helpers import run_target, singer_lines

KEYS = {
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "test-secret-value-123",
    "aws_region": "us-east-1",
}


def _client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["aws_access_key_id"],
        aws_secret_access_key=KEYS["aws_secret_access_key"],
    )


def _lines(n: int, pad: int = 10) -> str:
    schema = {
        "type": "SCHEMA",
        "stream": "events",
        "schema": {"properties": {"Id": {"type": "string"}, "pad": {"type": "string"}}},
        "key_properties": ["Id"],
    }
    records = (
        {
            "type": "RECORD",
            "stream": "events",
            "record": {"Id": f"e{i}", "pad": os.urandom(pad).hex()},
        }
        for i in range(n)
    )
    return singer_lines(schema, *records, {"type": "STATE", "value": {"n": n}})


def test_given_an_s3_destination_when_writing_then_objects_land_under_the_prefix_and_read_back(
    s3_endpoint: str, tmp_path: Path
) -> None:
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="lake")
    config = {"destination": "s3://lake/raw/salesforce", "s3_endpoint_url": s3_endpoint, **KEYS}
    run = run_target(tmp_path, config, _lines(50))
    assert run.returncode == 0, run.stderr
    assert run.states == [{"n": 50}]
    keys = sorted(
        o["Key"]
        for o in client.list_objects_v2(Bucket="lake", Prefix="raw/salesforce/")["Contents"]
    )
    data_keys = [k for k in keys if k.endswith(".parquet")]
    assert len(data_keys) == 1
    assert data_keys[0].startswith("raw/salesforce/events/events-")
    assert any(k.startswith("raw/salesforce/_manifests/") for k in keys)
    body = client.get_object(Bucket="lake", Key=data_keys[0])["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 50
    for secret in (KEYS["aws_secret_access_key"],):
        assert secret not in run.stderr


def test_given_a_file_over_the_part_size_when_uploading_then_a_multipart_upload_is_completed(
    s3_endpoint: str, tmp_path: Path
) -> None:
    client = _client(s3_endpoint)
    client.create_bucket(Bucket="multi")
    config = {
        "destination": "s3://multi",
        "s3_endpoint_url": s3_endpoint,
        "format": "jsonl",
        "s3_part_size_mb": 5,
        **KEYS,
    }
    run = run_target(tmp_path, config, _lines(7_000, pad=600))
    assert run.returncode == 0, run.stderr
    [key] = [
        o["Key"]
        for o in client.list_objects_v2(Bucket="multi")["Contents"]
        if o["Key"].endswith(".jsonl")
    ]
    head = client.head_object(Bucket="multi", Key=key)
    assert head["ContentLength"] > 5 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-2"), "uploaded in two parts"
    assert client.list_multipart_uploads(Bucket="multi").get("Uploads", []) == [], (
        "no upload left open"
    )


def test_given_a_missing_bucket_when_starting_then_a_clear_error(
    s3_endpoint: str, tmp_path: Path
) -> None:
    config = {"destination": "s3://no-such-bucket/x", "s3_endpoint_url": s3_endpoint, **KEYS}
    run = run_target(tmp_path, config, _lines(1))
    assert run.returncode == 1
    assert (
        "target-events: S3 bucket 'no-such-bucket' is not usable (404): check destination and credentials"
        in run.stderr
    )


def test_given_wrong_credentials_when_starting_then_a_clear_error_without_the_secret(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(endpoint, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        config = {
            "destination": "s3://lake",
            "s3_endpoint_url": endpoint,
            **KEYS,
            "aws_secret_access_key": "definitely-wrong-secret",
        }
        run = run_target(tmp_path, config, _lines(1))
        assert run.returncode == 1
        assert (
            "target-events: S3 bucket 'lake' is not usable (403): check destination and credentials"
            in run.stderr
        )
        assert "definitely-wrong-secret" not in run.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_given_plain_http_to_a_remote_endpoint_when_configured_then_refused(tmp_path: Path) -> None:
    config = {"destination": "s3://lake", "s3_endpoint_url": "http://s3.example.com", **KEYS}
    run = run_target(tmp_path, config, _lines(1))
    assert run.returncode == 1
    assert (
        "setting 's3_endpoint_url': plain http is only allowed for loopback hosts; use https"
        in run.stderr
    )
    assert json.dumps(KEYS["aws_secret_access_key"]) not in run.stderr


def test_given_the_scenario_landed_on_s3_then_the_report_reads_it_and_qa_compares_with_the_previous_run(
    s3_endpoint: str, tmp_path: Path
) -> None:
    from synthetic_org import SandboxOrg
    from tests.helpers import TARGET, run_tap, tap_config, write_json
    from tests.scenario import DecisionScenario

    _client(s3_endpoint).create_bucket(Bucket="decisions")
    with SandboxOrg(org=DecisionScenario()) as org:
        tap = run_tap(tmp_path, tap_config(org))
        assert tap.returncode == 0, tap.stderr
    config = {"destination": "s3://decisions/sf", "s3_endpoint_url": s3_endpoint, **KEYS}
    for _ in range(2):
        landed = run_target(tmp_path, config, tap.stdout)
        assert landed.returncode == 0, landed.stderr
    client = _client(s3_endpoint)
    keys = [
        o["Key"]
        for o in client.list_objects_v2(Bucket="decisions", Prefix="sf/_manifests/")["Contents"]
    ]
    first, second = (
        json.loads(client.get_object(Bucket="decisions", Key=k)["Body"].read())
        for k in sorted(keys)
    )
    assert second["quality"]["previous_run_id"] == first["run_id"]
    assert second["quality"]["streams"]["micro_decision_events"]["row_drift"] == 0.0
    done = subprocess.run(
        [TARGET, "report", "--config", str(write_json(tmp_path / "cfg.json", config)), "--format", "json", "--as-of", "2025-04-01"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["destination"] == "s3://decisions/sf"
    assert report["events"]["total"] == 14
    assert report["stages"]["bottleneck"]["stage"] == "Prospecting"
    assert [c["actor_name"] for c in report["setup"]["critical"]] == ["Ada Admin"]
    assert KEYS["aws_secret_access_key"] not in done.stdout + done.stderr
