"""Chaos: random faults from the org and random SIGKILLs of the tap or the target, restarted each time
from the last STATE the target printed, until a run completes after the last kill. Nothing may be
lost, and no partial file may ever be visible. Bounded: a small org, a fixed number of kills per
seed."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthetic_org import SandboxOrg
from synthetic_org.faults import Faults
from tests.helpers import TAP, TARGET, run_tap, tap_config, write_json

OBJECTS = [
    "Opportunity",
    "OpportunityHistory",
    "OpportunityFieldHistory",
    "Task",
    "User",
    "ProcessInstance",
    "ProcessInstanceStep",
    "SetupAuditTrail",
]
KILLS = 5
STAGING = ".target-events-staging"


def _visible_tables(out: Path) -> dict[str, list[dict]]:
    """Every visible data file must be a complete Parquet file (a partial one fails to read)."""
    rows: dict[str, list[dict]] = {}
    for path in out.rglob("*"):
        if not path.is_file() or STAGING in path.parts or "_manifests" in path.parts:
            continue
        assert path.suffix == ".parquet", f"unexpected visible file {path.name}"
        stream = path.relative_to(out).parts[0]
        rows.setdefault(stream, []).extend(pq.read_table(path).to_pylist())
    return rows


def _delta_tables(out: Path) -> dict[str, list[dict]]:
    """format delta: every stream's table at its last commit (a kill never leaves it unreadable)."""
    from deltalake import DeltaTable

    rows: dict[str, list[dict]] = {}
    for path in out.iterdir() if out.exists() else []:
        if path.name.startswith(("_", ".")) or not DeltaTable.is_deltatable(str(path)):
            continue
        rows[path.name] = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return rows


def _pipeline(
    tmp: Path, state: dict | None, kill_after: float | None, rng: random.Random
) -> tuple[dict | None, bool, str]:
    """One attempt; returns (last STATE printed by the target, completed, what was killed)."""
    args = [TAP, "--config", str(tmp / "tap.json")]
    if state is not None:
        args += ["--state", str(write_json(tmp / "state.json", state))]
    tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    target = subprocess.Popen(
        [TARGET, "--config", str(tmp / "target.json")],
        stdin=tap.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert tap.stdout is not None
    assert target.stdout is not None
    tap.stdout.close()
    victim = ""
    if kill_after is not None:
        time.sleep(kill_after)
        process = tap if rng.random() < 0.5 else target
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            victim = "tap" if process is tap else "target"
    lines = target.stdout.read().decode().splitlines()
    tap.wait(timeout=120)
    target.wait(timeout=120)
    states = [json.loads(line) for line in lines if line.strip()]
    return (states[-1] if states else state), tap.returncode == 0 and target.returncode == 0, victim


@pytest.mark.parametrize(
    ("seed", "fmt"),
    [(1, "parquet"), (2, "parquet"), (3, "parquet"), (4, "parquet"), (5, "parquet"), (2, "delta")],
)
def test_given_random_faults_and_kills_when_restarting_from_state_then_nothing_is_lost(
    tmp_path: Path, seed: int, fmt: str
) -> None:
    landed_now = _delta_tables if fmt == "delta" else _visible_tables
    rng = random.Random(seed)
    faults = Faults(random_rate=0.1, random_seed=seed, query_timeout_days=1200)
    with SandboxOrg(seed=100 + seed, scale=150, faults=faults) as org:
        out = tmp_path / "out"
        write_json(
            tmp_path / "tap.json",
            tap_config(
                org,
                objects=OBJECTS,
                api_type="auto",
                bulk_threshold=500,
                bulk_page_records=1000,
                start_date="2023-01-01T00:00:00Z",
            ),
        )
        write_json(
            tmp_path / "target.json",
            {
                "destination": str(out),
                "format": fmt,
                "max_batch_rows": 1000,
                "partition_by": {
                    "micro_decision_events": {"field": "timestamp_occurred", "granularity": "month"}
                },
            },
        )
        state, attempts, kills = None, 0, Counter()
        while True:
            attempts += 1
            kill_after = rng.uniform(0.3, 1.6) if sum(kills.values()) < KILLS else None
            state, completed, victim = _pipeline(tmp_path, state, kill_after, rng)
            if victim:
                kills[victim] += 1
            landed_now(out)  # at every kill point: only complete files (or commits) are visible
            # A run that ends before its kill is not the end while kills are owed: the next
            # attempt starts from its STATE (an incremental run) and is killed in turn. A faster
            # pipeline would otherwise outrun the kills and test fewer of them.
            if completed and not victim and sum(kills.values()) >= KILLS:
                break
            assert attempts < 40, "the pipeline never completed"
        faults_met = faults.total_injected
        org.faults = Faults()  # the truth is read without faults
        truth = run_tap(tmp_path, tap_config(org, objects=OBJECTS, api_type="rest"))
        assert truth.returncode == 0, truth.stderr[-2000:]

    landed = landed_now(out)
    lost, duplicates = 0, 0
    for stream in [*OBJECTS, "micro_decision_events"]:
        key = "event_id" if stream == "micro_decision_events" else "Id"
        expected = {r[key] for r in truth.records(stream)}
        got = [r[key] for r in landed.get(stream, [])]
        duplicates += len(got) - len(set(got))
        lost += len(expected - set(got))
        assert expected <= set(got), f"{stream}: {len(expected - set(got))} records lost"
    print(
        f"\nchaos seed {seed} ({fmt}): faults injected {faults_met} ({dict(faults.injected)}), kills {dict(kills)}, restarts {attempts - 1}, records lost {lost}, duplicates before dedup {duplicates}"
    )
    assert faults_met >= 20, f"only {faults_met} faults met"
    assert sum(kills.values()) >= KILLS
