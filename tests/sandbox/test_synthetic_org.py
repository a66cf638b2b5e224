"""The synthetic org is deterministic per seed and internally consistent, like a real org's history."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
from collections import defaultdict

import pyarrow.compute as pc
import pytest
import requests

from synthetic_org import SandboxOrg
from synthetic_org.data.org import SyntheticOrg
from synthetic_org.ids import is_valid_id, make_id, to_18
from synthetic_org.metadata import OBJECTS
from tests.conftest import Api

ANCHOR = int(dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc).timestamp())


def test_ids_are_case_safe_18_characters_with_real_key_prefixes() -> None:
    assert to_18("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # documented example id
    assert make_id("006", 1).startswith("006")
    assert len(make_id("006", 1)) == 18
    assert is_valid_id(make_id("500", 12345))
    assert not is_valid_id(make_id("500", 12345)[:15] + "AAA")


def test_given_same_seed_then_identical_tables_and_other_seed_then_different() -> None:
    names = [spec.name for spec in OBJECTS if spec.queryable]
    first, again, other = (SyntheticOrg(seed, 80, ANCHOR) for seed in (5, 5, 6))
    for name in names:
        assert first.table(name).equals(again.table(name)), name
    assert not first.table("OpportunityFieldHistory").equals(other.table("OpportunityFieldHistory"))


def test_given_same_seed_when_queried_over_http_then_identical_results() -> None:
    soql = "SELECT Id, StageName, Amount, CloseDate, SystemModstamp FROM Opportunity ORDER BY Id"
    results = []
    for seed in (5, 5, 6):
        with SandboxOrg(
            seed=seed, scale=40, anchor=dt.datetime.fromtimestamp(ANCHOR, dt.timezone.utc)
        ) as org:
            results.append(Api(org).query(soql).json()["records"])
    assert results[0] == results[1]
    assert results[0] != results[2]


@pytest.fixture(scope="module")
def org() -> SyntheticOrg:
    return SyntheticOrg(3, 400, ANCHOR)


def test_history_agrees_with_parent_records_and_snapshots(org: SyntheticOrg) -> None:
    opportunities = {r["Id"]: r for r in org.table("Opportunity").to_pylist()}
    stage_rows: dict[str, list[dict]] = defaultdict(list)
    for row in org.table("OpportunityFieldHistory").to_pylist():
        if row["Field"] == "StageName":
            stage_rows[row["OpportunityId"]].append(row)
    snapshots: dict[str, list[dict]] = defaultdict(list)
    for row in org.table("OpportunityHistory").to_pylist():
        snapshots[row["OpportunityId"]].append(row)
    assert stage_rows, "stage changes are tracked"
    for opp_id, rows in stage_rows.items():
        rows.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
        for before, after in itertools.pairwise(rows):
            assert before["NewValue"] == after["OldValue"], "each move starts where the last ended"
        assert rows[0]["OldValue"] == "Prospecting"
        assert rows[-1]["NewValue"] == opportunities[opp_id]["StageName"]
        snapshot_times = {s["CreatedDate"] for s in snapshots[opp_id]}
        assert all(r["CreatedDate"] in snapshot_times for r in rows), (
            "a stage move writes a snapshot"
        )
    for opp_id, rows in snapshots.items():
        latest = max(rows, key=lambda r: r["CreatedDate"])
        assert latest["StageName"] == opportunities[opp_id]["StageName"]
        assert latest["Amount"] == opportunities[opp_id]["Amount"]


def test_history_is_dated_ordered_and_has_shared_timestamps(org: SyntheticOrg) -> None:
    history = org.table("OpportunityFieldHistory")
    created = history["CreatedDate"]
    assert pc.all(pc.less_equal(created, pa_timestamp(ANCHOR))).as_py()
    ids = history["Id"].to_pylist()
    assert ids == sorted(ids), "ids are minted in creation order"
    assert pc.all(pc.greater_equal(created.slice(1), created.slice(0, len(created) - 1))).as_py()
    assert history.num_rows > pc.count_distinct(created).as_py(), "some rows share a timestamp"
    for name in (
        "Opportunity",
        "Account",
        "Case",
        "Task",
        "ProcessInstanceStep",
        "OpportunityHistory",
    ):
        table = org.table(name)
        assert pc.all(pc.greater_equal(table["SystemModstamp"], table["CreatedDate"])).as_py(), name


def test_approvals_steps_and_actor_types_are_realistic(org: SyntheticOrg) -> None:
    steps = org.table("ProcessInstanceStep").to_pylist()
    statuses = {s["StepStatus"] for s in steps}
    assert {"Started", "Approved"} <= statuses
    assert any(s["Comments"] for s in steps if s["StepStatus"] in ("Approved", "Rejected"))
    by_instance = defaultdict(list)
    for step in steps:
        by_instance[step["ProcessInstanceId"]].append(step)
    assert any(len(v) >= 3 for v in by_instance.values()), "some approvals have two approver steps"
    user_types = set(org.table("User")["UserType"].to_pylist())
    assert {"Standard", "AutomatedProcess", "CloudIntegrationUser"} <= user_types
    trail = org.table("SetupAuditTrail").to_pylist()
    assert len({t["Section"] for t in trail}) >= 5
    assert any(t["CreatedById"] == org.user_id(org.AUTOMATION) for t in trail)


def test_a_million_history_rows_generate_quickly_enough_for_benchmarks() -> None:
    """Sized check only: the speed itself is reported by `make bench`, not asserted here."""
    org = SyntheticOrg(1, 2000, ANCHOR)
    rows = org.table("OpportunityFieldHistory").num_rows
    assert 15_000 < rows < 25_000, "about ten history rows per opportunity, so 1M rows ~ scale 100k"


def pa_timestamp(seconds: int):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return pa.scalar(seconds * 1000, type=pa.timestamp("ms", tz="UTC"))


def test_given_the_cli_when_serving_then_it_prints_url_and_credentials_and_answers() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synthetic_org",
            "serve",
            "--scale",
            "20",
            "--json",
            "--fault-503-every",
            "2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        token = requests.post(
            f"{info['url']}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
            },
            timeout=10,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        statuses = [
            requests.get(
                f"{info['url']}/services/data/v62.0/limits", headers=headers, timeout=10
            ).status_code
            for _ in range(2)
        ]
        assert statuses == [200, 503]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
