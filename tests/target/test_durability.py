"""Durability: a killed target leaves only complete files, its last STATE covers only durable data,
and a pipeline restarted from that STATE ends with every record present."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import boto3
import pyarrow.parquet as pq
from moto.server import ThreadedMotoServer

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tests.conftest import free_port
from tests.helpers import TAP, TARGET, tap_config, write_json

STAGING = ".target-events-staging"


def _visible_files(out: Path) -> list[Path]:
    return [
        p
        for p in out.rglob("*")
        if p.is_file() and STAGING not in p.parts and "_manifests" not in p.parts
    ]


def _kill_mid_run(tmp_path: Path, config_values: dict) -> list[dict]:
    """Feed a target records and STATEs until it has emitted several STATEs, then SIGKILL it."""
    config = write_json(tmp_path / "config.json", {"max_batch_rows": 500, **config_values})
    target = subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert target.stdin is not None
    assert target.stdout is not None
    schema = {
        "properties": {
            "Id": {"type": "string"},
            "n": {"type": "integer"},
            "pad": {"type": "string"},
        }
    }
    target.stdin.write(
        (
            json.dumps(
                {"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["Id"]}
            )
            + "\n"
        ).encode()
    )
    os.set_blocking(target.stdout.fileno(), False)
    states: list[dict] = []
    buffer = b""
    sent = 0
    while len(states) < 6 and sent < 200_000:
        chunk = "".join(
            json.dumps(
                {
                    "type": "RECORD",
                    "stream": "s",
                    "record": {"Id": f"r{i}", "n": i, "pad": "x" * 200},
                }
            )
            + "\n"
            for i in range(sent, sent + 100)
        )
        sent += 100
        chunk += json.dumps({"type": "STATE", "value": {"sent": sent}}) + "\n"
        target.stdin.write(chunk.encode())
        target.stdin.flush()
        with contextlib.suppress(BlockingIOError):
            buffer += target.stdout.read() or b""
        *complete, buffer = buffer.split(b"\n")
        states += [json.loads(line) for line in complete if line.strip()]
        time.sleep(0.002)
    target.send_signal(signal.SIGKILL)
    target.wait(timeout=10)
    assert len(states) >= 2, "the target emitted STATE during the run, not only at the end"
    return states


def test_given_a_local_target_killed_mid_run_then_no_partial_file_is_visible_and_state_covers_durable_rows(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    states = _kill_mid_run(tmp_path, {"destination": str(out)})
    files = _visible_files(out)
    assert files
    assert all(f.suffix == ".parquet" for f in files), [f.name for f in files]
    durable = {row["n"] for f in files for row in pq.read_table(f).to_pylist()}
    covered = states[-1]["sent"]
    assert set(range(covered)) <= durable, (
        "the last STATE covers only rows already in complete files"
    )


def test_given_a_pipeline_whose_target_is_killed_when_restarted_from_its_state_then_every_record_lands(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=41, scale=3000) as org:
        out = tmp_path / "out"
        tap_cfg = write_json(
            tmp_path / "tap.json",
            tap_config(org, objects=["OpportunityFieldHistory"], api_type="rest"),
        )
        discovered = subprocess.run(
            [TAP, "--config", str(tap_cfg), "--discover"], capture_output=True, check=True
        ).stdout
        catalog = write_json(
            tmp_path / "catalog.json", select(json.loads(discovered), ["OpportunityFieldHistory"])
        )
        target_cfg = write_json(
            tmp_path / "target.json", {"destination": str(out), "max_batch_rows": 2000}
        )
        tap = subprocess.Popen(
            [TAP, "--config", str(tap_cfg), "--catalog", str(catalog)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        target = subprocess.Popen(
            [TARGET, "--config", str(target_cfg)],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert target.stdout is not None
        last_state = None
        for count, line in enumerate(target.stdout, start=1):
            last_state = json.loads(line)
            if count == 3:
                target.send_signal(signal.SIGKILL)
                break
        tap.kill()
        tap.wait(timeout=10)
        target.wait(timeout=10)
        assert last_state is not None
        before = {row["Id"] for f in _visible_files(out) for row in pq.read_table(f).to_pylist()}
        expected = set(org.org.table("OpportunityFieldHistory")["Id"].to_pylist())
        assert 0 < len(before) < len(expected), "killed mid-run"

        state_path = write_json(tmp_path / "state.json", last_state)
        tap = subprocess.Popen(
            [TAP, "--config", str(tap_cfg), "--catalog", str(catalog), "--state", str(state_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        finished = subprocess.run(
            [TARGET, "--config", str(target_cfg)],
            stdin=tap.stdout,
            capture_output=True,
            timeout=300,
            check=False,
        )
        tap.wait(timeout=60)
        assert finished.returncode == 0, finished.stderr.decode()[-2000:]
        after = {row["Id"] for f in _visible_files(out) for row in pq.read_table(f).to_pylist()}
        assert after == expected


def test_given_an_s3_target_killed_mid_run_then_only_complete_objects_exist_and_state_covers_them(
    tmp_path: Path,
) -> None:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        keys = {
            "aws_access_key_id": "AKIAKILLTEST",
            "aws_secret_access_key": "kill-test-secret",
            "aws_region": "us-east-1",
        }
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIAKILLTEST",
            aws_secret_access_key="kill-test-secret",
        )
        client.create_bucket(Bucket="killed")
        states = _kill_mid_run(
            tmp_path, {"destination": "s3://killed/p", "s3_endpoint_url": endpoint, **keys}
        )
        objects = [o["Key"] for o in client.list_objects_v2(Bucket="killed").get("Contents", [])]
        assert objects
        assert all(k.endswith(".parquet") for k in objects), objects
        durable = set()
        for key in objects:
            body = client.get_object(Bucket="killed", Key=key)["Body"].read()
            durable |= {row["n"] for row in pq.read_table(io.BytesIO(body)).to_pylist()}
        assert set(range(states[-1]["sent"])) <= durable
        assert client.list_multipart_uploads(Bucket="killed").get("Uploads", []) == []
    finally:
        server.stop()
