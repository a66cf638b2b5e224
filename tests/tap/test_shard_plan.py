"""``tap-salesforce-temporal plan`` (issue #29): the selected streams split into balanced shards,
each a catalog a scheduler runs as its own tap process, all into one destination."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.shards import (
    EVENTS_SHARD,
    EVENTS_STREAM,
    shard_catalog,
    split,
)

from ..helpers import TAP, TARGET, tap_config, write_json

OBJECTS = ["Account", "Case", "Contact", "Opportunity", "OpportunityFieldHistory", "Task"]


def test_given_counts_then_shards_are_disjoint_complete_and_within_the_largest_stream() -> None:
    rows = {"A": 900, "B": 500, "C": 400, "D": 300, "E": 250, "F": 10, "G": 0, EVENTS_STREAM: 0}
    plan = split(rows, 3)
    named = [s for shard in plan for s in shard.streams]
    assert sorted(named) == sorted(rows), "every stream once"
    assert plan[-1].name == EVENTS_SHARD
    assert plan[-1].streams == (EVENTS_STREAM,)
    loads = [shard.rows for shard in plan if shard.name != EVENTS_SHARD]
    assert loads == [sum(rows[s] for s in shard.streams) for shard in plan[:-1]]
    assert max(loads) - min(loads) <= max(rows.values())
    assert max(loads) == 900, "A alone; B+E and C+D+F+G take the rest"
    assert split(rows, 3) == plan, "the same counts give the same plan"


def test_given_more_shards_than_streams_then_no_empty_shard() -> None:
    assert [s.streams for s in split({"A": 5, "B": 1}, 4)] == [("A",), ("B",)]
    with pytest.raises(ValueError, match="at least 1"):
        split({"A": 1}, 0)


def test_given_a_shard_then_its_catalog_selects_only_its_streams() -> None:
    catalog = {
        "streams": [
            {
                "tap_stream_id": "A",
                "metadata": [
                    {"breadcrumb": [], "metadata": {"selected": True}},
                    {"breadcrumb": ["properties", "x"], "metadata": {"selected": False}},
                ],
            },
            {"tap_stream_id": "B", "metadata": []},
        ]
    }
    chosen = shard_catalog(catalog, ["B"])
    roots = {e["tap_stream_id"]: e["metadata"] for e in chosen["streams"]}
    assert roots["A"][0]["metadata"]["selected"] is False
    assert roots["A"][1]["metadata"] == {"selected": False}, "field selections kept"
    assert roots["B"] == [{"breadcrumb": [], "metadata": {"selected": True}}]
    assert catalog["streams"][0]["metadata"][0]["metadata"]["selected"] is True, "input untouched"


@pytest.fixture(scope="module")
def org():  # type: ignore[no-untyped-def]
    with SandboxOrg(seed=11, scale=60) as org:
        yield org


def _landed(root: Path, stream: str) -> list[dict]:
    return ds.dataset(root / stream, format="parquet", partitioning="hive").to_table().to_pylist()


def test_given_a_plan_then_the_shards_run_side_by_side_land_every_object_once(
    org: SandboxOrg, tmp_path: Path
) -> None:
    config = write_json(tmp_path / "config.json", tap_config(org, objects=OBJECTS))
    out = tmp_path / "plan"
    made = subprocess.run(
        [TAP, "plan", "--shards", "3", "--config", str(config), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    plan = json.loads((out / "plan.json").read_text())
    rows = plan["rows"]
    assert set(OBJECTS) <= set(rows)
    assert EVENTS_STREAM in rows
    for name in OBJECTS:
        assert rows[name] == org.count(name), name
    named = [s for shard in plan["shards"] for s in shard["streams"]]
    assert sorted(named) == sorted(rows), "the shards' union is the selection, none twice"
    loads = [s["rows"] for s in plan["shards"] if s["shard"] != EVENTS_SHARD]
    assert len(loads) == 3
    assert max(loads) - min(loads) <= max(rows.values())
    assert [s["shard"] for s in plan["shards"]][-1] == EVENTS_SHARD

    lake, whole = tmp_path / "lake", tmp_path / "whole"
    runs = [(s["shard"], _pipe(tmp_path, config, s["catalog"], lake)) for s in plan["shards"]]
    runs.append(("unsharded", _pipe(tmp_path, config, None, whole)))
    for name, (tap, target) in runs:
        assert tap.wait(timeout=300) == 0, name
        _, err = target.communicate(timeout=300)
        assert target.returncode == 0, (name, err[-2000:])
    for name in OBJECTS:
        ids = [row["Id"] for row in _landed(lake, name)]
        assert len(ids) == len(set(ids)) == org.count(name), name
    events = [row["event_id"] for row in _landed(lake, EVENTS_STREAM)]
    assert len(events) == len(set(events))
    assert sorted(events) == sorted(r["event_id"] for r in _landed(whole, EVENTS_STREAM)), (
        "the events shard alone emits what one process emits"
    )


def _pipe(
    tmp_path: Path, config: Path, catalog: str | None, destination: Path
) -> tuple[subprocess.Popen, subprocess.Popen]:
    """``tap | target`` as two real processes, started now."""
    target_config = write_json(
        tmp_path / f"{destination.name}.json", {"destination": str(destination)}
    )
    tap = subprocess.Popen(
        [TAP, "--config", str(config), *(["--catalog", catalog] if catalog else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    target = subprocess.Popen(
        [TARGET, "--config", str(target_config)],
        stdin=tap.stdout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tap.stdout is not None
    tap.stdout.close()
    return tap, target
