"""A catalog that selects objects the org lacks: each one is named, and none existing is an error."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tests.helpers import run_tap, tap_config


def _catalog_with_nope(org: SandboxOrg, tmp_path: Path, selected: list[str]) -> dict:
    config = tap_config(org, objects=["Account"])
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    [account] = [s for s in catalog["streams"] if s["tap_stream_id"] == "Account"]
    nope = copy.deepcopy(account)
    nope["tap_stream_id"] = nope["stream"] = "Nope__c"
    catalog["streams"].append(nope)
    return select(catalog, selected)


def test_given_a_selected_object_the_org_lacks_when_syncing_then_a_warning_names_it(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    catalog = _catalog_with_nope(small_org, tmp_path, ["Account", "Nope__c"])
    run = run_tap(tmp_path, tap_config(small_org), catalog=catalog)
    assert run.returncode == 0, run.stderr
    assert len(run.records("Account")) == small_org.count("Account")
    warnings = [line for line in run.stderr.splitlines() if "Nope__c" in line]
    assert len(warnings) == 1
    assert "WARNING" in warnings[0]
    assert (
        "Stream Nope__c is selected in the catalog but the org has no object Nope__c" in warnings[0]
    )


def test_given_only_objects_the_org_lacks_are_selected_when_syncing_then_one_line_error(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    catalog = _catalog_with_nope(small_org, tmp_path, ["Nope__c"])
    run = run_tap(tmp_path, tap_config(small_org), catalog=catalog)
    assert run.returncode == 1
    assert run.stdout == ""
    assert (
        "tap-salesforce-temporal: catalog: none of the selected streams exist in this org: Nope__c"
        in run.stderr.splitlines()
    )
    assert "Traceback" not in run.stderr


def test_given_objects_naming_objects_the_org_lacks_then_discovery_and_sync_name_them_once(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    """``objects`` with a typo and another org's object: one warning per run, with the closest
    real name, and the objects that exist are discovered and synced."""
    config = tap_config(small_org, objects=["Opportunty", "NoSuchObject__c", "Account", "Lead*"])
    expected = (
        "setting 'objects': no object of this org (or visible to this user) matches "
        "Opportunty (did you mean Opportunity?), NoSuchObject__c; skipped"
    )
    discovery = run_tap(tmp_path, config, discover=True)
    assert discovery.returncode == 0, discovery.stderr
    streams = {s["tap_stream_id"] for s in json.loads(discovery.stdout)["streams"]}
    assert {"Account", "Lead", "LeadHistory"} <= streams
    assert not streams & {"Opportunity", "Opportunty", "NoSuchObject__c"}
    synced = run_tap(tmp_path, config)
    assert synced.returncode == 0, synced.stderr
    assert len(synced.records("Account")) == small_org.count("Account")
    for run in (discovery, synced):
        warnings = [line for line in run.stderr.splitlines() if "Opportunty" in line]
        assert len(warnings) == 1, warnings
        assert "WARNING" in warnings[0]
        assert warnings[0].endswith(expected)


def test_given_objects_of_which_none_exist_then_discovery_and_sync_fail_in_one_line(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    config = tap_config(small_org, objects=["Opportunty", "Nope__*"])
    for run in (run_tap(tmp_path, config, discover=True), run_tap(tmp_path, config)):
        assert run.returncode == 1
        assert run.stdout == ""
        assert (
            "tap-salesforce-temporal: setting 'objects': none of its entries is an object of this "
            "org (or visible to this user): Opportunty (did you mean Opportunity?), Nope__*"
        ) in run.stderr.splitlines()
        assert "Traceback" not in run.stderr
