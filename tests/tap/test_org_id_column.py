"""``org_id_column`` (issue #29): every stream's schema, key and rows carry the org's id, read
from the login's identity, so several orgs can share one lake; off, nothing changes."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.discovery.org_column import ORG_ID_COLUMN
from tap_salesforce_temporal.streams.key_snapshot import LIVE_KEYS
from tests.helpers import TapRun, run_tap, tap_config

# Objects read over REST and Bulk, with compound fields, history, and the derived streams.
OBJECTS = ["Account", "Contact", "Opportunity", "OpportunityFieldHistory", "SetupAuditTrail"]


@pytest.fixture(scope="module")
def orgs():  # type: ignore[no-untyped-def]
    with SandboxOrg(seed=21, scale=40) as first, SandboxOrg(seed=22, scale=40) as second:
        yield first, second


def _schemas(run: TapRun) -> dict[str, dict]:
    return {m["stream"]: m for m in run.messages if m["type"] == "SCHEMA"}


def _assert_stamped(run: TapRun, org_id: str) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    schemas = _schemas(run)
    assert {*OBJECTS, "micro_decision_events"} <= set(schemas)
    for name, message in schemas.items():
        assert ORG_ID_COLUMN in message["schema"]["properties"], name
        assert message["key_properties"][0] == ORG_ID_COLUMN, name
    assert schemas["Account"]["key_properties"] == [ORG_ID_COLUMN, "Id"]
    assert schemas["micro_decision_events"]["key_properties"] == [ORG_ID_COLUMN, "event_id"]
    records = [m for m in run.messages if m["type"] == "RECORD"]
    streams = {m["stream"] for m in records}
    assert {*OBJECTS, "micro_decision_events"} <= streams
    assert {m["record"][ORG_ID_COLUMN] for m in records} == {org_id}


def test_given_org_id_column_then_every_row_and_key_of_each_org_carries_its_own_id(
    orgs: tuple[SandboxOrg, SandboxOrg], tmp_path: Path
) -> None:
    first, second = orgs
    assert first.org_id != second.org_id, "two synthetic orgs are two orgs"
    assert len(first.org_id) == 18
    for index, org in enumerate(orgs):
        # REST pages (the per-page line writer) and Bulk pages (unordered jobs).
        for api_type in ("rest", "bulk"):
            folder = tmp_path / f"{index}-{api_type}"
            folder.mkdir()
            config = tap_config(org, objects=OBJECTS, api_type=api_type, org_id_column=True)
            _assert_stamped(run_tap(folder, config), org.org_id)


def test_given_org_id_column_and_stream_maps_then_the_sdk_record_path_stamps_rows_too(
    orgs: tuple[SandboxOrg, SandboxOrg], tmp_path: Path
) -> None:
    org = orgs[0]
    config = tap_config(
        org,
        objects=OBJECTS,
        org_id_column=True,
        stream_maps={"Account": {"Name": "Name"}},  # a map: the SDK's own loop for Account
    )
    run = run_tap(tmp_path, config)
    _assert_stamped(run, org.org_id)
    assert {r[ORG_ID_COLUMN] for r in run.records("Account")} == {org.org_id}


def test_given_org_id_column_and_batch_files_then_every_file_has_the_column(
    orgs: tuple[SandboxOrg, SandboxOrg], tmp_path: Path
) -> None:
    org = orgs[1]
    batch_config = {
        "encoding": {"format": "parquet", "compression": "none"},
        "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "batch-"},
        "batch_size": 500,
    }
    config = tap_config(org, objects=OBJECTS, org_id_column=True, batch_config=batch_config)
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    announced = [m for m in run.messages if m["type"] == "BATCH"]
    assert {m["stream"] for m in announced} >= {*OBJECTS, "micro_decision_events"}
    for message in announced:
        for uri in message["manifest"]:
            table = pq.read_table(uri.removeprefix("file://"))
            assert set(table[ORG_ID_COLUMN].to_pylist()) <= {org.org_id}, message["stream"]
            assert table[ORG_ID_COLUMN].null_count == 0, message["stream"]


def test_given_org_id_column_off_then_schemas_rows_and_keys_are_as_before(
    orgs: tuple[SandboxOrg, SandboxOrg], tmp_path: Path
) -> None:
    run = run_tap(tmp_path, tap_config(orgs[0], objects=["Account"]))
    assert run.returncode == 0, run.stderr[-3000:]
    schemas = _schemas(run)
    assert schemas["Account"]["key_properties"] == ["Id"]
    assert schemas["micro_decision_events"]["key_properties"] == ["event_id"]
    assert all(ORG_ID_COLUMN not in m["schema"]["properties"] for m in schemas.values())
    assert all(ORG_ID_COLUMN not in r for r in run.records())


def test_given_org_id_column_with_reconcile_deletes_then_the_key_snapshot_names_its_org(
    orgs: tuple[SandboxOrg, SandboxOrg], tmp_path: Path
) -> None:
    """A key snapshot names its org (every key and the closing record), so a target holding
    several orgs compares it with that org's rows only; off, the snapshot is as before."""
    org = orgs[0]
    for on in (True, False):
        folder = tmp_path / str(on)
        folder.mkdir()
        config = tap_config(
            org, objects=["Account"], org_id_column=on, reconcile_deletes="always", api_type="bulk"
        )
        run = run_tap(folder, config)
        assert run.returncode == 0, run.stderr[-3000:]
        schema = _schemas(run)[LIVE_KEYS]
        keys = run.records(LIVE_KEYS)
        assert keys[-1]["complete"] is True
        assert keys[-1]["count"] == len(keys) - 1 > 0
        if on:
            assert ORG_ID_COLUMN in schema["schema"]["properties"]
            assert schema["key_properties"] == [ORG_ID_COLUMN, "stream", "Id"]
            assert {r[ORG_ID_COLUMN] for r in keys} == {org.org_id}
        else:
            assert ORG_ID_COLUMN not in schema["schema"]["properties"]
            assert schema["key_properties"] == ["stream", "Id"]
            assert all(ORG_ID_COLUMN not in r for r in keys)
