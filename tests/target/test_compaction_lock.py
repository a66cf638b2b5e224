"""One compaction at a time per Delta table on S3 (issue #29: many writers into one lake).

delta-rs commits two compactions made from one snapshot and doubles their rows, so runs that
finish together must compact one at a time (locally a ``flock``: tests/target/test_delta.py).
On S3 the lock is a lease object created by a conditional put; these tests speak to moto's S3
server through boto3, and run delta-rs in child processes (it holds the GIL while it waits on
S3, and moto answers from a thread of this process).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from target_events.lake.compaction_lock import LEASE_SECONDS, LOCK_FILE, s3_compaction_lease

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"aws_access_key_id": "AKIATESTTESTTEST", "aws_secret_access_key": "test-secret-value-123"}


def _client(endpoint: str) -> object:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **KEYS)


def _bucket(endpoint: str, name: str) -> object:
    client = _client(endpoint)
    client.create_bucket(Bucket=name)
    return client


def _lease_key(table: str) -> str:
    return f"{table}/_delta_log/{LOCK_FILE}"


def test_runs_asking_at_once_get_one_lease_and_the_next_gets_it_once_released(
    s3_endpoint: str,
) -> None:
    client = _bucket(s3_endpoint, "lease-race")
    uri = "s3://lease-race/lake/Account"
    asked, release = threading.Barrier(6), threading.Event()
    held: list[bool] = []

    def ask() -> None:
        asked.wait()
        with s3_compaction_lease(_client(s3_endpoint), uri) as mine:
            held.append(mine)
            if mine:
                release.wait(30)  # hold it until every other run has asked

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    while len(held) < 6 and any(t.is_alive() for t in threads):
        threading.Event().wait(0.05)
    release.set()
    for thread in threads:
        thread.join(30)
    assert sorted(held) == [False] * 5 + [True], held
    with pytest.raises(client.exceptions.ClientError):  # released: no lease left behind
        client.head_object(Bucket="lease-race", Key=_lease_key("lake/Account"))
    with s3_compaction_lease(client, uri) as mine:
        assert mine, "a released lease is free for the next run"


def test_a_lease_that_ran_out_is_taken_over_once_and_a_live_one_is_not(s3_endpoint: str) -> None:
    client = _bucket(s3_endpoint, "lease-stale")
    uri, key = "s3://lease-stale/t/Account", _lease_key("t/Account")
    now = 1_800_000_000.0
    live = json.dumps({"holder": "other", "expires_at": now + 60}).encode()
    client.put_object(Bucket="lease-stale", Key=key, Body=live)
    with s3_compaction_lease(client, uri, now=now) as mine:
        assert not mine, "a live lease of another run is respected"
    assert client.get_object(Bucket="lease-stale", Key=key)["Body"].read() == live
    stale = json.dumps({"holder": "killed", "expires_at": now - 1}).encode()
    client.put_object(Bucket="lease-stale", Key=key, Body=stale)
    with s3_compaction_lease(client, uri, now=now) as mine:
        assert mine, "a lease that ran out is taken over"
        lease = json.loads(client.get_object(Bucket="lease-stale", Key=key)["Body"].read())
        assert lease["expires_at"] == now + LEASE_SECONDS
        with s3_compaction_lease(_client(s3_endpoint), uri, now=now) as second:
            assert not second, "the taken-over lease is now live"


def test_a_lease_taken_over_after_it_ran_out_is_not_removed_by_its_first_holder(
    s3_endpoint: str,
) -> None:
    client = _bucket(s3_endpoint, "lease-late")
    uri, key = "s3://lease-late/t/Account", _lease_key("t/Account")
    first = s3_compaction_lease(client, uri, now=-LEASE_SECONDS)  # ran out long ago
    assert first.__enter__()
    second = s3_compaction_lease(_client(s3_endpoint), uri)
    assert second.__enter__(), "the run-out lease was taken over"
    taken = client.get_object(Bucket="lease-late", Key=key)["Body"].read()
    first.__exit__(None, None, None)  # the first holder ends while the second compacts
    assert client.get_object(Bucket="lease-late", Key=key)["Body"].read() == taken
    second.__exit__(None, None, None)
    with pytest.raises(client.exceptions.ClientError):
        client.head_object(Bucket="lease-late", Key=key)


MAINTAIN = """
import json, sys
import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import write_deltalake
from target_events.config.settings import Settings
from target_events.lake.delta_merge import table_dataset
from target_events.lake.delta_maintenance import maintain_table
endpoint, uri, step = sys.argv[1], sys.argv[2], sys.argv[3]
config = {"destination": uri.rsplit("/", 1)[0], "format": "delta", "lake_compact_after_files": 4,
          "s3_endpoint_url": endpoint, "aws_region": "us-east-1",
          "aws_access_key_id": sys.argv[4], "aws_secret_access_key": sys.argv[5]}
settings = Settings.from_config(config)
options = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
           "AWS_ACCESS_KEY_ID": sys.argv[4], "AWS_SECRET_ACCESS_KEY": sys.argv[5]}
if step == "fill":
    for i in range(12):
        write_deltalake(uri, pa.table({"Id": [f"a{i:02d}"]}), mode="append", storage_options=options)
    done = {}
else:
    done = maintain_table(uri, options, None, settings)
# Read through Arrow's own S3 filesystem: delta-rs' Python one aborts the process at exit.
s3 = pafs.S3FileSystem(access_key=sys.argv[4], secret_key=sys.argv[5], region="us-east-1",
                       endpoint_override=endpoint.removeprefix("http://"), scheme="http")
rooted = pafs.SubTreeFileSystem(uri.removeprefix("s3://"), s3)
ids = table_dataset(uri, options, rooted).to_table()["Id"].to_pylist()
print(json.dumps({"done": done, "ids": sorted(ids)}))
"""


def _maintain(endpoint: str, uri: str, step: str) -> dict:
    args = [sys.executable, "-c", MAINTAIN, endpoint, uri, step, *KEYS.values()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.timeout(300)
def test_runs_on_s3_compact_under_the_lease_and_skip_while_another_holds_it(
    s3_endpoint: str,
) -> None:
    client = _bucket(s3_endpoint, "lake-compact")
    uri, key = "s3://lake-compact/lake/Account", _lease_key("lake/Account")
    every = [f"a{i:02d}" for i in range(12)]
    assert _maintain(s3_endpoint, uri, "fill")["ids"] == every
    live = json.dumps({"holder": "another run", "expires_at": 4_000_000_000}).encode()
    client.put_object(Bucket="lake-compact", Key=key, Body=live)
    skipped = _maintain(s3_endpoint, uri, "maintain")
    assert "compacted" not in skipped["done"], "compacted while another run held the lease"
    assert skipped["ids"] == every
    client.delete_object(Bucket="lake-compact", Key=key)
    compacted = _maintain(s3_endpoint, uri, "maintain")
    assert compacted["done"].get("compacted") == 12, compacted
    assert compacted["ids"] == every, "a row doubled or lost"
    with pytest.raises(client.exceptions.ClientError):
        client.head_object(Bucket="lake-compact", Key=key)
