"""Every object of a small org lands the same rows whichever query path and message mode carry it.

api_type rest / bulk / auto (auto with a threshold that sends some objects through each path) x
RECORD / RECORD through the SDK's own per-record loop (a no-op stream map on every stream) /
BATCH Parquet (the tap's own batch files) / BATCH JSONL (the SDK's batcher): twelve
``tap | target-events`` runs, each compared stream by stream with the REST + RECORD run (a
differential test of every way out of the tap).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.discovery.unsyncable import is_unsyncable
from tests.helpers import run_tap, run_target, tap_config

API_TYPES = ("rest", "bulk", "auto")
MODES = ("record", "sdk-loop", "parquet", "jsonl")
RECORD_MODES = ("record", "sdk-loop")
# Half the objects of the org are above this row count at scale 20, half below.
AUTO_THRESHOLD = 40


@pytest.fixture(scope="module")
def org() -> Iterator[SandboxOrg]:
    with SandboxOrg(seed=3, scale=20) as org:
        yield org


def _config(org: SandboxOrg, api_type: str, mode: str, root: Path) -> dict:
    config = tap_config(org, api_type=api_type, bulk_threshold=AUTO_THRESHOLD)
    if mode == "sdk-loop":
        # An empty map keeps every property but is not the identity: the SDK's loop emits.
        streams = [e["name"] for e in org.rest.describe_global("62.0")["sobjects"]]
        config["stream_maps"] = {
            name: {} for name in [*streams, "micro_decision_events", "history_tracked_fields"]
        }
    elif mode != "record":
        config["batch_config"] = {
            "encoding": {"format": mode, "compression": "gzip" if mode == "jsonl" else "none"},
            "storage": {"root": (root / "batches").as_uri(), "prefix": "batch-"},
            "batch_size": 50,
        }
    return config


# The one value of the org with more digits than a double holds: Bulk CSV carries them all, REST
# JSON the double a real org writes (tests/fidelity/test_exact_decimals.py). Every other value
# must land the same by every path.
BEYOND_DOUBLE = {
    decimal.Decimal("9876543210987654.32"): "beyond a double",
    decimal.Decimal("9876543210987654.00"): "beyond a double",
}


def _normalised(value: object) -> object:
    """Compare values, not encodings: datetimes as UTC instants, nested values recursively."""
    if isinstance(value, decimal.Decimal) and value in BEYOND_DOUBLE:
        return BEYOND_DOUBLE[value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def _landed(destination: Path) -> dict[str, list[str]]:
    """Stream -> its landed rows as sorted JSON lines (provenance columns dropped)."""
    landed: dict[str, list[str]] = {}
    for folder in sorted(p for p in destination.iterdir() if p.is_dir()):
        if not any(folder.rglob("*.parquet")):
            continue
        table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
        rows = []
        for row in table.to_pylist():
            row = {
                k: v
                for k, v in row.items()
                if k not in ("extracted_at", "_sdc_extracted_at", "snapshot_at")
            }
            rows.append(json.dumps(_normalised(row), sort_keys=True, default=str))
        landed[folder.name] = sorted(rows)
    return landed


def _pipeline(org: SandboxOrg, tmp_path: Path, api_type: str, mode: str) -> dict[str, list[str]]:
    root = tmp_path / f"{api_type}-{mode}"
    root.mkdir()
    tap = run_tap(root, _config(org, api_type, mode, root))
    assert tap.returncode == 0, tap.stderr[-2000:]
    kinds = {m["type"] for m in tap.messages}
    assert ("BATCH" in kinds) == (mode not in RECORD_MODES), kinds
    assert ("RECORD" in kinds) == (mode in RECORD_MODES), kinds
    target = run_target(root, {"destination": str(root / "out")}, tap.stdout)
    assert target.returncode == 0, target.stderr[-2000:]
    return _landed(root / "out")


@pytest.fixture(scope="module")
def reference(org: SandboxOrg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    landed = _pipeline(org, tmp_path_factory.mktemp("reference"), "rest", "record")
    # Every object the tap reads as a stream (not those that need a parent filter).
    objects = [
        e["name"]
        for e in org.rest.describe_global("62.0")["sobjects"]
        if e.get("queryable") and not is_unsyncable(e["name"])
    ]
    for name in objects:
        assert len(landed.get(name, [])) == org.count(name), name
    assert {"micro_decision_events", "history_tracked_fields"} <= set(landed)
    return landed


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api_type", API_TYPES)
def test_given_any_query_path_and_message_mode_then_every_object_lands_the_same_rows(
    org: SandboxOrg, reference: dict[str, list[str]], tmp_path: Path, api_type: str, mode: str
) -> None:
    if (api_type, mode) == ("rest", "record"):
        landed = reference
    else:
        landed = _pipeline(org, tmp_path, api_type, mode)
    assert sorted(landed) == sorted(reference)
    for stream, rows in reference.items():
        assert landed[stream] == rows, f"{stream} via {api_type}/{mode}"
