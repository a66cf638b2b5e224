"""BATCH mode: typed Parquet batch files from Bulk pages land exactly what RECORD mode lands."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tests.helpers import run_tap, run_target, tap_config

OBJECTS = ["Account", "Contact", "OpportunityFieldHistory", "OpportunityHistory"]


def _batch_config(root: Path, size: int = 700) -> dict:
    return {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": root.as_uri(), "prefix": "batch-"},
        "batch_size": size,
    }


def _landed(root: Path, stream: str) -> list[dict]:
    table = ds.dataset(root / stream, format="parquet", partitioning="hive").to_table()
    rows = table.to_pylist()
    for row in rows:
        row.pop("extracted_at", None)
    key = "event_id" if stream == "micro_decision_events" else "Id"
    return sorted(rows, key=lambda r: r[key])


@pytest.fixture(scope="module")
def org():  # type: ignore[no-untyped-def]
    with SandboxOrg(seed=5, scale=400) as org:
        yield org


def test_given_batch_config_then_bulk_pages_become_parquet_batches_that_land_like_records(
    org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(org, objects=OBJECTS, api_type="bulk", bulk_page_records=1000)
    records = run_tap(tmp_path, config)
    assert records.returncode == 0, records.stderr
    batches = run_tap(tmp_path, {**config, "batch_config": _batch_config(tmp_path / "batches")})
    assert batches.returncode == 0, batches.stderr
    assert not [m for m in batches.messages if m["type"] == "RECORD"]
    announced = [m for m in batches.messages if m["type"] == "BATCH"]
    ofh = [m for m in announced if m["stream"] == "OpportunityFieldHistory"]
    rows = org.count("OpportunityFieldHistory")
    assert len(ofh) == -(-rows // 700), "one file per batch_size rows, pages re-cut"
    assert (
        sum(pq.read_metadata(m["manifest"][0].removeprefix("file://")).num_rows for m in ofh)
        == rows
    )
    first = pq.read_schema(ofh[0]["manifest"][0].removeprefix("file://"))
    assert str(first.field("CreatedDate").type) == "timestamp[ms, tz=UTC]", (
        "typed from the describe"
    )
    contact = pq.read_schema(
        next(m for m in announced if m["stream"] == "Contact")["manifest"][0].removeprefix(
            "file://"
        )
    )
    assert str(contact.field("MailingAddress").type).startswith("struct<"), "compound as struct"
    # STATE after each BATCH covers the files announced so far, and ends where RECORD mode ends.
    for stream in OBJECTS:
        assert batches.last_state["bookmarks"][stream] == records.last_state["bookmarks"][stream], (
            stream
        )
    record_out, batch_out = tmp_path / "from-records", tmp_path / "from-batches"
    assert run_target(tmp_path, {"destination": str(record_out)}, records.stdout).returncode == 0
    landed = run_target(tmp_path, {"destination": str(batch_out)}, batches.stdout)
    assert landed.returncode == 0, landed.stderr
    for stream in [*OBJECTS, "micro_decision_events"]:
        assert _landed(batch_out, stream) == _landed(record_out, stream), stream


def test_given_a_resumed_batch_run_then_it_starts_after_the_last_announced_file(
    org: SandboxOrg, tmp_path: Path
) -> None:
    # REST pages are ordered, so STATE moves file by file (a Bulk job's only once it is read).
    config = tap_config(org, objects=["OpportunityFieldHistory"], api_type="rest")
    config["batch_config"] = _batch_config(tmp_path / "batches", size=1000)
    full = run_tap(tmp_path, config)
    ofh = [
        i
        for i, m in enumerate(full.messages)
        if m["type"] == "BATCH" and m["stream"] == "OpportunityFieldHistory"
    ]
    assert len(ofh) >= 4
    cut = ofh[1] + 1
    middle = full.messages[cut]
    assert middle["type"] == "STATE", "STATE right after each BATCH"
    middle = middle["value"]
    announced_before = sum(
        pq.read_metadata(full.messages[i]["manifest"][0].removeprefix("file://")).num_rows
        for i in ofh[:2]
    )
    resumed = run_tap(tmp_path, {**config, "lookback_window": 0}, state=middle)
    assert resumed.returncode == 0, resumed.stderr
    after = sum(
        pq.read_metadata(m["manifest"][0].removeprefix("file://")).num_rows
        for m in resumed.messages
        if m["type"] == "BATCH" and m["stream"] == "OpportunityFieldHistory"
    )
    rows = org.count("OpportunityFieldHistory")
    assert announced_before + after >= rows, "nothing skipped"
    assert announced_before + after <= rows + 50, (
        "only the rows sharing the bookmark second re-read"
    )


def test_given_deselected_fields_and_stream_maps_then_batch_files_honour_them(
    org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(org, objects=["Account"], api_type="bulk")
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    catalog = select(catalog, ["Account"])
    [account] = [s for s in catalog["streams"] if s["tap_stream_id"] == "Account"]
    for entry in account["metadata"]:
        if entry["breadcrumb"] == ["properties", "Description"]:
            entry["metadata"]["selected"] = False
    maps = {
        "Account": {"Phone": None},
        "AccountNames": {"__source__": "Account", "__else__": None, "Id": "Id", "Name": "Name"},
    }
    config = {**config, "batch_config": _batch_config(tmp_path / "batches"), "stream_maps": maps}
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    files = {
        m["stream"]: m["manifest"][0].removeprefix("file://")
        for m in run.messages
        if m["type"] == "BATCH"
    }
    assert set(files) == {"Account", "AccountNames"}
    account_columns = set(pq.read_schema(files["Account"]).names)
    assert "Name" in account_columns
    assert not {"Description", "Phone"} & account_columns, "deselected and mapped-out fields absent"
    assert set(pq.read_schema(files["AccountNames"]).names) == {"Id", "Name"}
    assert pq.read_metadata(files["AccountNames"]).num_rows == org.count("Account")


def test_given_the_quota_stops_a_bulk_job_in_batch_mode_then_no_file_moves_the_bookmark(
    tmp_path: Path,
) -> None:
    """Bulk jobs run without ORDER BY: a job stopped part-way by the quota guard leaves files
    whose last row is not the job's largest key. Those files go out, but the bookmark stays
    where it was, so the next run reads the whole job again instead of skipping rows."""
    with SandboxOrg(seed=31, scale=3000, api_usage_start=790, daily_api_limit=1000) as org:
        config = tap_config(
            org,
            objects=["OpportunityFieldHistory"],
            api_type="bulk",
            bulk_page_records=1000,
            max_api_usage_percent=80,
            event_types=["activity"],  # micro_decision_events reads no field history here
            batch_config=_batch_config(tmp_path / "batches", size=1500),
        )
        run = run_tap(tmp_path, config)
        total = org.count("OpportunityFieldHistory")
    assert run.returncode == 3, run.stderr
    announced = [m for m in run.messages if m["type"] == "BATCH"]
    rows = sum(
        pq.read_metadata(Path(uri.removeprefix("file://"))).num_rows
        for m in announced
        if m["stream"] == "OpportunityFieldHistory"
        for uri in m["manifest"]
    )
    assert 0 < rows < total, "the job was read part of the way"
    bookmarks = {
        s["bookmarks"].get("OpportunityFieldHistory", {}).get("replication_key_value")
        for s in run.states
    }
    assert bookmarks == {None}, "no STATE moved the bookmark of a job read part of the way"
