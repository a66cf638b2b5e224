"""The Prefect flow (issue #29) under Prefect's local test harness: two synthetic orgs, two
shards each, concurrently into one Delta lake on moto S3, STATE per org and shard on S3.

One shard's tap is killed part-way (SIGKILL, its first stream landed, the others not): the flow
run fails naming that shard only; the next run resumes it from its own STATE; in the end every
object's table holds each org's rows exactly once, told apart by their org ids.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow.compute as pc
import pytest
from prefect.testing.utilities import prefect_test_harness

from flows.scale_out import Org, ScaleOutResult, sync_orgs
from flows.state_store import StateStore
from synthetic_org import SandboxOrg
from tests.helpers import tap_config

OBJECTS = ["Account", "Contact", "Opportunity", "Case", "OpportunityFieldHistory"]
KEYS = {
    "aws_access_key_id": "AKIATESTTESTTEST",
    "aws_secret_access_key": "test-secret-value-123",
    "aws_region": "us-east-1",
}

# Each table's (org id, key) pairs, read in a child process: delta-rs holds the GIL while it
# waits on S3, and moto answers from a thread of this process.
READ_LAKE = """
import json, sys
from target_events.store.filesystems import S3Options, open_filesystem
from target_events.report.source import stream_dataset
endpoint, key_id, secret, streams = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s3 = S3Options(endpoint, "us-east-1", key_id, secret)
filesystem, base = open_filesystem("s3://lake/mirror", s3)
out = {}
for stream in streams:
    key = "event_id" if stream == "micro_decision_events" else "Id"
    rows = stream_dataset(filesystem, base, stream, s3).to_table(columns=["_sdc_org_id", key])
    out[stream] = [[r["_sdc_org_id"], r[key]] for r in rows.to_pylist()]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with prefect_test_harness():
        yield


def _s3(endpoint: str) -> dict[str, str]:
    return {
        "endpoint_url": endpoint,
        "region_name": KEYS["aws_region"],
        "aws_access_key_id": KEYS["aws_access_key_id"],
        "aws_secret_access_key": KEYS["aws_secret_access_key"],
    }


def _truth(org: SandboxOrg, name: str) -> list[str]:
    """The Ids a query (not queryAll) returns: deleted and archived rows hidden."""
    table = org.org.table(name)
    for flag in ("IsDeleted", "IsArchived"):
        if flag in table.column_names:
            table = table.filter(pc.invert(pc.fill_null(table[flag], False)))
    return sorted(table["Id"].to_pylist())


def _lake(endpoint: str, streams: list[str]) -> dict[str, list[list[str]]]:
    args = [sys.executable, "-c", READ_LAKE, endpoint, KEYS["aws_access_key_id"]]
    args += [KEYS["aws_secret_access_key"], *streams]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, list[list[str]]] = json.loads(done.stdout)
    return result


def _pid_of(argument: str) -> int | None:
    """The running process with this argument on its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in args:
            return int(entry.name)
    return None


def _kill_a_shard(work: Path, run: threading.Thread) -> tuple[str, str] | None:
    """SIGKILL the tap of org-b's shard of most streams once its first stream is done (its
    streams run one at a time: the second has begun) and the others are not; the shard
    killed, or None (never seen running)."""
    deadline = time.monotonic() + 240
    plan = work / "org-b" / "plan" / "plan.json"
    while run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
        if not plan.exists():
            continue
        shards = json.loads(plan.read_text())["shards"]
        shard = max((s for s in shards if s["shard"] != "events"), key=lambda s: len(s["streams"]))
        log = work / "org-b" / "logs" / shard["shard"] / "attempt-1.tap.log"
        begun = log.read_text().count("Beginning sync of") if log.exists() else 0
        pid = _pid_of(shard["catalog"])
        if begun >= 2 and pid is not None:
            os.kill(pid, signal.SIGKILL)
            return "org-b", shard["shard"]
    return None


@pytest.mark.timeout(420)
def test_given_two_orgs_in_two_shards_then_one_lake_holds_each_org_once_and_a_killed_shard_resumes(
    s3_endpoint: str, tmp_path: Path, harness: None
) -> None:
    boto3.client("s3", **_s3(s3_endpoint)).create_bucket(Bucket="lake")
    target = {
        "destination": "s3://lake/mirror",
        "format": "delta",
        "s3_endpoint_url": s3_endpoint,
        **KEYS,
    }
    store = StateStore("s3://lake/state", _s3(s3_endpoint))
    with (
        SandboxOrg(seed=31, scale=40) as first,
        # Slow answers, one stream at a time: org-b's shards land their streams one by one.
        SandboxOrg(seed=32, scale=40, latency_ms=200) as second,
    ):
        orgs = [
            Org("org-a", tap_config(first, objects=OBJECTS, api_type="rest")),
            Org("org-b", tap_config(second, objects=OBJECTS, api_type="rest", max_concurrency=1)),
        ]
        arguments: dict[str, Any] = {
            "orgs": orgs,
            "shards": 2,
            "target_config": target,
            "state_url": store.url,
            "state_s3": _s3(s3_endpoint),
            "workdir": str(tmp_path / "work"),
            "state_every_seconds": 0.0,
        }
        outcome: dict[str, Any] = {}
        run = threading.Thread(
            target=lambda: outcome.update(
                state=sync_orgs(**arguments, shard_retries=0, return_state=True)
            )
        )
        run.start()
        killed = _kill_a_shard(tmp_path / "work", run)
        run.join(timeout=300)
        assert killed, "org-b's shard was seen running after its first stream"
        first_run = outcome["state"]
        assert first_run.is_failed()
        assert "/".join(killed) in first_run.message
        assert "org-a/" not in first_run.message
        left_at = store.get(*killed)
        plan = json.loads((tmp_path / "work" / "org-b" / "plan" / "plan.json").read_text())
        streams = next(s["streams"] for s in plan["shards"] if s["shard"] == killed[1])
        assert left_at is not None
        assert 1 <= len(left_at["bookmarks"]) < len(streams), "landed part-way"
        finished = {
            (org, shard): store.get(org, shard)
            for org in ("org-a", "org-b")
            for shard in ("shard-1", "shard-2", "events")
            if (org, shard) != killed
        }
        assert all(finished.values()), "every other shard landed and saved its STATE"

        result: ScaleOutResult = sync_orgs(**arguments, shard_retries=1)

    by_shard = {(r.org, r.shard): r for r in result.shards}
    assert set(by_shard) == {*finished, killed}
    assert by_shard[killed].start_state == left_at, "the killed shard resumed from its own STATE"
    for name, state in finished.items():
        assert by_shard[name].start_state == state, name
    assert result.report is not None
    assert Path(result.report).exists()

    lake = _lake(s3_endpoint, [*OBJECTS, "micro_decision_events"])
    ids = {first.org_id, second.org_id}
    assert len(ids) == 2
    for name in OBJECTS:
        rows = lake[name]
        assert len(rows) == len({tuple(r) for r in rows}), f"{name}: no duplicates"
        for org in (first, second):
            landed = sorted(key for org_id, key in rows if org_id == org.org_id)
            assert landed == _truth(org, name), (name, org.org_id)
    events = lake["micro_decision_events"]
    assert {org_id for org_id, _ in events} == ids
    assert len(events) == len({tuple(r) for r in events}), "events: no duplicates"
