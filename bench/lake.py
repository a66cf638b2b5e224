"""Delta Lake bench (issue 20's goals), not a test: merge cost and file count over a week.

- merge: one incremental run of ``changed`` rows (80% updates, 10% inserts, 10% deletes) into a
  ``rows``-row Account-like table, through the target's own ``DeltaLake.write`` (latest-per-key,
  deletion side table, merge commit), timed;
- week: ``runs`` simulated 15-minute runs of ``changed`` rows each, with the target's after-run
  maintenance (compaction once ``lake_compact_after_files`` small files piled up, vacuum), then
  the table's live files, the data files on disk and the log files, and a duplicate-key check.

    python -m bench.lake --rows 1000000 --changed 1000 --runs 670     # the goal's sizes
    python -m bench.lake --rows 20000 --changed 200 --runs 20          # a quick check
    python -m bench.lake --lake-mode history ...  # the same in history mode (SCD type 2)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from target_events.config.settings import Settings
from target_events.lake.delta import DeltaLake
from target_events.lake.delta_plan import plan_for

COLUMNS = ["Id", "Name", "Amount", "SystemModstamp", "IsDeleted", "_sdc_deleted_at"]
TS = pa.timestamp("us", tz="UTC")
EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def _batch(ids: list[int], tick: int, deleted: set[int]) -> pa.Table:
    stamp = EPOCH + dt.timedelta(minutes=15 * tick)
    return pa.table(
        {
            "Id": [f"001{i:012d}" for i in ids],
            "Name": [f"account {i} v{tick}" for i in ids],
            "Amount": [float(i % 1000) for i in ids],
            "SystemModstamp": pa.array([stamp] * len(ids), TS),
            "IsDeleted": [i in deleted for i in ids],
            "_sdc_deleted_at": pa.array([stamp if i in deleted else None for i in ids], TS),
        }
    )


def lake_bench(
    rows: int, changed: int, runs: int, workdir: Path, lake_mode: str = "current"
) -> dict:
    """Figures for README's bench section; ``workdir`` holds the table. In history mode the
    table keeps every version, so its rows grow by the updates and deletes of each run."""
    settings = Settings.from_config(
        {"destination": str(workdir), "format": "delta", "qa_mode": "off", "lake_mode": lake_mode}
    )
    lake = DeltaLake(settings)
    plan = plan_for(COLUMNS, ["Id"], ["SystemModstamp"])
    rng = random.Random(20)
    started = time.perf_counter()
    for start in range(0, rows, 250_000):  # the initial full sync, in target-sized batches
        lake.write(
            "Account", _batch(list(range(start, min(rows, start + 250_000))), 0, set()), plan
        )
    load = time.perf_counter() - started
    next_id, live = rows, set(range(rows))
    merge_seconds = []
    for tick in range(1, runs + 1):
        updates = rng.sample(
            sorted(live) if len(live) < 50_000 else range(rows), int(changed * 0.8)
        )
        updates = [i for i in updates if i in live]
        deletes = set(rng.sample(updates, min(len(updates), changed // 10)))
        inserts = list(range(next_id, next_id + changed // 10))
        next_id += len(inserts)
        started = time.perf_counter()
        lake.write("Account", _batch(updates + inserts, tick, deletes), plan)
        merge_seconds.append(time.perf_counter() - started)
        lake.maintain_written()
        live = (live - deletes) | set(inserts)
    from deltalake import DeltaTable

    table = DeltaTable(lake.table_uri("Account"))
    history = lake_mode == "history"
    stored = table.to_pyarrow_table(columns=["Id", "_is_current"] if history else ["Id"])
    ids = stored.filter(stored["_is_current"])["Id"] if history else stored["Id"]
    root = Path(lake.table_uri("Account"))
    return {
        "lake_mode": lake_mode,
        "stored_rows": stored.num_rows,
        "rows": rows,
        "changed_per_run": changed,
        "runs": runs,
        "initial_load_s": round(load, 2),
        "first_merge_s": round(merge_seconds[0], 2) if merge_seconds else None,
        "median_merge_s": round(sorted(merge_seconds)[len(merge_seconds) // 2], 2)
        if merge_seconds
        else None,
        "live_rows": len(ids),
        "expected_rows": len(live),
        "duplicate_keys": len(ids) - len(set(ids.to_pylist())),
        "live_files": len(table.file_uris()),
        "data_files_on_disk": len(list(root.glob("*.parquet"))),
        "log_files": len(list((root / "_delta_log").glob("*"))),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=670)
    parser.add_argument("--lake-mode", choices=("current", "history"), default="current")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as workdir:
        figures = lake_bench(args.rows, args.changed, args.runs, Path(workdir), args.lake_mode)
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
