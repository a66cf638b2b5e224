"""``target-events compact``: small Parquet files merged per partition; a compaction stopped at
any step of its protocol shows readers every row exactly once, and the next run finishes it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from target_events.commands import compact
from target_events.store.journal import visible_files
from tests.helpers import TARGET, run_target, singer_lines

SCHEMA = {
    "type": "SCHEMA",
    "stream": "events",
    "schema": {"properties": {"Id": {"type": "string"}, "n": {"type": "integer"}}},
    "key_properties": ["Id"],
}


def _landed(tmp_path: Path, runs: int = 4) -> Path:
    out = tmp_path / "out"
    config = {"destination": str(out), "max_batch_rows": 5}
    for run in range(runs):
        records = [
            {"type": "RECORD", "stream": "events", "record": {"Id": f"{run}-{i}", "n": i}}
            for i in range(12)
        ]
        lines = singer_lines(SCHEMA, *records, {"type": "STATE", "value": {"run": run}})
        assert run_target(tmp_path, config, lines).returncode == 0
    return out


def _seen(out: Path) -> list[str]:
    """Every row a reader applying the journal sees, as sorted ids (duplicates kept)."""
    filesystem = pafs.LocalFileSystem()
    ids = []
    for path in visible_files(filesystem, str(out), "events"):
        ids += pq.read_table(path, partitioning=None)["Id"].to_pylist()
    return sorted(ids)


def test_given_small_files_when_compacting_then_one_file_holds_every_row_once(
    tmp_path: Path,
) -> None:
    out = _landed(tmp_path)
    before = _seen(out)
    assert len(list((out / "events").glob("*.parquet"))) == 12
    done = subprocess.run(
        [TARGET, "compact", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.splitlines()[-1])["merged_files"] == 12
    assert [p.name.split("-compacted-")[0] for p in (out / "events").glob("*.parquet")] == [
        "events"
    ]
    assert _seen(out) == before
    assert len(before) == len(set(before)) == 48
    assert list((out / "_compactions" / "done").glob("*.json"))


@pytest.mark.parametrize("stop_after", ["pending", "journal", "rename", "one_delete"])
def test_given_a_compaction_killed_at_any_step_then_readers_see_each_row_once_and_the_rerun_finishes_it(
    tmp_path: Path, stop_after: str
) -> None:
    out = _landed(tmp_path, runs=2)
    before = _seen(out)
    filesystem, base = pafs.LocalFileSystem(), str(out)
    (job,) = compact.plan(filesystem, base, "events", 128 * 1024 * 1024)
    # The protocol's steps, done by hand up to where the kill struck.
    ident = "killed0000000000"
    merged = f"events/events-compacted-{ident}.parquet"
    record = {
        "id": ident,
        "stream": "events",
        "partition": "",
        "replaces": job.sources,
        "pending": merged + compact.PENDING,
        "merged": merged,
        "rows": len(before),
    }
    with pq.ParquetWriter(out / record["pending"], pq.read_schema(out / job.sources[0])) as writer:
        for key in job.sources:
            writer.write_table(pq.read_table(out / key, partitioning=None))
    if stop_after != "pending":
        compact._write_json(filesystem, f"{base}/_compactions/events/{ident}.json", record)
    if stop_after in ("rename", "one_delete"):
        filesystem.move(f"{base}/{record['pending']}", f"{base}/{merged}")
    if stop_after == "one_delete":
        filesystem.delete_file(f"{base}/{job.sources[0]}")
    assert _seen(out) == before, "a reader mid-compaction sees every row exactly once"
    done = subprocess.run(
        [TARGET, "compact", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert _seen(out) == before
    assert len(list((out / "events").glob("*.parquet"))) == 1
    assert not list((out / "events").glob("*.pending"))
    assert not list((out / "_compactions" / "events").glob("*.json"))


def test_given_default_settings_then_events_are_partitioned_by_month_not_by_day() -> None:
    from target_events.config.settings import Settings

    spec = Settings.from_config({"destination": "out"}).partition_by["micro_decision_events"]
    assert (spec.field, spec.granularity) == ("timestamp_occurred", "month")
