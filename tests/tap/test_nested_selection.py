"""A sub-property of a compound field deselected in the catalog is left out, as the SDK does.

Catalogs list each compound field's components (``BillingAddress.street`` ...) and Meltano's
``select`` rules can exclude one (``!Account.BillingAddress.street``). The SDK's own record path
drops it; the tap's fast paths must too, whatever the query path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthetic_org import SandboxOrg
from tests.helpers import TapRun, run_tap, tap_config


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_given_a_compound_sub_property_deselected_then_records_leave_it_out(
    tmp_path: Path, api_type: str
) -> None:
    with SandboxOrg(seed=3, scale=40) as org:
        config = tap_config(org, objects=["Account"], api_type=api_type)
        run = _run_without_street(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    addresses = [r["BillingAddress"] for r in run.records("Account") if r.get("BillingAddress")]
    assert addresses, "the org's accounts have billing addresses"
    assert all("street" not in a for a in addresses), "the deselected component is left out"
    assert any(a.get("city") for a in addresses), "the other components stay"


def test_given_a_compound_sub_property_deselected_in_batch_mode_then_files_leave_it_out(
    tmp_path: Path,
) -> None:
    with SandboxOrg(seed=3, scale=40) as org:
        config = tap_config(
            org,
            objects=["Account"],
            api_type="bulk",
            batch_config={
                "encoding": {"format": "parquet", "compression": "none"},
                "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "batch-"},
                "batch_size": 1000,
            },
        )
        run = _run_without_street(tmp_path, config)
    assert run.returncode == 0, run.stderr[-2000:]
    files = [
        Path(uri.removeprefix("file://"))
        for m in run.messages
        if m["type"] == "BATCH" and m["stream"] == "Account"
        for uri in m["manifest"]
    ]
    assert files
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    addresses = [r["BillingAddress"] for r in rows if r.get("BillingAddress")]
    assert addresses
    assert all(a.get("street") is None for a in addresses), "the deselected component is left out"
    assert any(a.get("city") for a in addresses), "the other components stay"


def _run_without_street(tmp_path: Path, config: dict) -> TapRun:
    """Account alone, from the discovered catalog with ``BillingAddress.street`` deselected."""
    catalog = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    account = next(s for s in catalog["streams"] if s["tap_stream_id"] == "Account")
    for entry in account["metadata"]:
        if entry["breadcrumb"] == []:
            entry["metadata"]["selected"] = True
        if entry["breadcrumb"] == ["properties", "BillingAddress", "properties", "street"]:
            entry["metadata"]["selected"] = False
    catalog["streams"] = [account]
    return run_tap(tmp_path, config, catalog=catalog)
