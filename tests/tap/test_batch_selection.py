"""BATCH files hold what RECORD mode would write: deselected properties out, stream maps applied.

JSONL batches, remote roots and mapped streams without the tap's own Parquet writer go through
the SDK's batcher, which in singer-sdk 0.54 takes records straight from the record loop: a field
deselected in the catalog stayed in the files, stream maps were never applied, and every alias
was announced with the same (unmapped) files. The tap's own Parquet files of
micro_decision_events (read on their own or from an object stream's pages) kept deselected
fields too.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tests.helpers import TapRun, run_tap, tap_config

EVENTS = "micro_decision_events"
TRACKED = "history_tracked_fields"
# AccountHistory: the source of Account's decisions (not selected itself).
OBJECTS = ["Account", "AccountHistory"]
# (stream, breadcrumb) deselected: a top-level field and a component of an object, per stream.
DESELECTED = (
    ("Account", ("Description",)),
    ("Account", ("BillingAddress", "street")),
    (EVENTS, ("actor_id",)),
    (EVENTS, ("context", "source_record_id")),
    (TRACKED, ("field_label",)),
)


@pytest.fixture(scope="module")
def org():  # type: ignore[no-untyped-def]
    with SandboxOrg(seed=3, scale=40) as org:
        yield org


def _jsonl_batches(root: Path) -> dict:
    return {
        "encoding": {"format": "jsonl", "compression": "none"},
        "storage": {"root": root.as_uri(), "prefix": "batch-"},
        "batch_size": 100,
    }


def _catalog(tmp_path: Path, config: dict, deselected: tuple = ()) -> dict:
    """Account, micro_decision_events and history_tracked_fields selected, ``deselected``
    (stream, path) left out."""
    discovered = json.loads(run_tap(tmp_path, config, discover=True).stdout)
    catalog = select(discovered, ["Account", EVENTS, TRACKED])
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            for name, path in deselected:
                crumb = [p for part in path for p in ("properties", part)]
                if stream["tap_stream_id"] == name and entry["breadcrumb"] == crumb:
                    entry["metadata"]["selected"] = False
    return catalog


def _batch_rows(run: TapRun) -> dict[str, list[dict]]:
    """Stream alias -> the rows of every file announced for it, read as the target reads them."""
    rows: dict[str, list[dict]] = {}
    for message in run.messages:
        if message["type"] != "BATCH":
            continue
        for uri in message["manifest"]:
            path = Path(uri.removeprefix("file://"))
            if message["encoding"]["format"] == "parquet":
                found = pq.read_table(path).to_pylist()
            else:  # the SDK's JSONL batcher gzips whatever the compression setting says
                with gzip.open(path, "rt") as lines:
                    found = [json.loads(line) for line in lines]
            rows.setdefault(message["stream"], []).extend(found)
    return rows


def _has(row: dict, path: tuple[str, ...]) -> bool:
    holder: object = row
    for part in path[:-1]:
        holder = holder.get(part) if isinstance(holder, dict) else None
    return isinstance(holder, dict) and path[-1] in holder


@pytest.mark.parametrize("api_type", ["rest", "bulk"])
def test_given_deselected_fields_when_the_sdk_batcher_writes_jsonl_then_files_leave_them_out(
    org: SandboxOrg, tmp_path: Path, api_type: str
) -> None:
    config = tap_config(org, objects=OBJECTS, api_type=api_type)
    catalog = _catalog(tmp_path, config, DESELECTED)
    config["batch_config"] = _jsonl_batches(tmp_path / "batches")
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = _batch_rows(run)
    assert len(rows["Account"]) == org.count("Account")
    assert rows[EVENTS], "the org has decisions"
    assert rows[TRACKED], "AccountHistory tracks fields"
    for stream, path in DESELECTED:
        assert not any(_has(row, path) for row in rows[stream]), f"{stream} {'.'.join(path)}"
    kept = (
        ("Account", ("Name",)),
        ("Account", ("BillingAddress", "city")),
        (EVENTS, ("actor_type",)),
        (EVENTS, ("context", "source_object")),
        (TRACKED, ("field_name",)),
    )
    for stream, path in kept:
        assert all(_has(row, path) for row in rows[stream] if row.get(path[0])), path
        assert any(_has(row, path) for row in rows[stream]), path


@pytest.mark.parametrize("shared", [False, True], ids=["own-read", "shared-read"])
def test_given_deselected_event_fields_when_the_tap_writes_parquet_then_files_leave_them_out(
    org: SandboxOrg, tmp_path: Path, shared: bool
) -> None:
    """The tap's own Parquet files (a local root, no maps): the events read on their own, or
    derived from AccountHistory's pages while that stream is synced too."""
    config = tap_config(org, objects=OBJECTS, api_type="rest")
    catalog = _catalog(tmp_path, config, [d for d in DESELECTED if d[0] == EVENTS])
    if shared:
        catalog = select(catalog, ["Account", "AccountHistory", EVENTS, TRACKED])
    config["batch_config"] = {
        **_jsonl_batches(tmp_path / "batches"),
        "encoding": {"format": "parquet", "compression": "none"},
    }
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert ("events derived from this stream's pages" in run.stderr) == shared
    events = _batch_rows(run)[EVENTS]
    assert events, "the org has decisions"
    assert not any(_has(r, ("actor_id",)) for r in events)
    assert not any(_has(r, ("context", "source_record_id")) for r in events)
    assert all(r["actor_type"] and r["context"]["source_object"] for r in events)


def test_given_stream_maps_when_the_sdk_batcher_writes_then_each_alias_gets_its_mapped_rows(
    org: SandboxOrg, tmp_path: Path
) -> None:
    """Account through JSONL; micro_decision_events through Parquet on a local root, which the
    tap's own writer leaves to the SDK's batcher once a map is set.

    Two aliases of Account: a file of each per ``batch_size`` records read, both announced
    before the STATE that covers those records."""
    config = tap_config(org, objects=OBJECTS, api_type="rest")
    catalog = _catalog(tmp_path, config)
    config["stream_maps"] = {
        "Account": {"Phone": None},
        "AccountNames": {"__source__": "Account", "__else__": None, "Id": "Id", "Name": "Name"},
        EVENTS: {"old_value": None, "new_value": None},
    }
    config["batch_config"] = {**_jsonl_batches(tmp_path / "batches"), "batch_size": 7}
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = _batch_rows(run)
    assert set(rows) == {"Account", "AccountNames", EVENTS, TRACKED}
    assert any(r.get("Name") for r in rows["Account"])
    assert not any("Phone" in r for r in rows["Account"]), "mapped out"
    assert {frozenset(r) for r in rows["AccountNames"]} == {frozenset({"Id", "Name"})}
    assert len(rows["AccountNames"]) == org.count("Account")
    assert rows[EVENTS]
    assert not any({"old_value", "new_value"} & set(r) for r in rows[EVENTS])
    files = [m for m in run.messages if m["type"] == "BATCH" and "Account" in m["stream"]]
    assert len({u for m in files for u in m["manifest"]}) == len(files), "a file per alias"
    between_states = [
        [m["stream"] for m in group if m["type"] == "BATCH" and "Account" in m["stream"]]
        for group in _split_at_states(run.messages)
    ]
    pairs = [streams for streams in between_states if streams]
    assert len(pairs) == -(-org.count("Account") // 7)
    assert all(sorted(streams) == ["Account", "AccountNames"] for streams in pairs), pairs

    parquet = {**config["batch_config"], "encoding": {"format": "parquet", "compression": "none"}}
    config = {**config, "batch_config": parquet}
    run = run_tap(tmp_path, config, catalog=_catalog(tmp_path, config))
    assert run.returncode == 0, run.stderr[-2000:]
    rows = _batch_rows(run)
    assert rows[EVENTS]
    assert not any({"old_value", "new_value"} & set(r) for r in rows[EVENTS])


def _split_at_states(messages: list[dict]) -> list[list[dict]]:
    groups: list[list[dict]] = [[]]
    for message in messages:
        if message["type"] == "STATE":
            groups.append([])
        else:
            groups[-1].append(message)
    return groups
