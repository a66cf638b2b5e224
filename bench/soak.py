"""Soak: many rows through ``tap | target`` with the org throwing random faults, restarted from the
last STATE the target printed until a run completes; then every row is accounted for.

    python -m bench.run --soak-rows 10000000      (or: make bench BENCH_ARGS="--soak-rows 10000000")
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bench.harness import ROWS_PER_SCALE, STREAM, TAP, TARGET, wait_peak_mb
from synthetic_org import SandboxOrg
from synthetic_org.faults import Faults
from tap_salesforce_temporal.commands.catalog import select

FAULT_RATE = 0.08
MAX_ATTEMPTS = 60


def _attempt(workdir: Path, state: dict | None) -> tuple[dict | None, bool, float, float]:
    args = [TAP, "--config", str(workdir / "tap.json"), "--catalog", str(workdir / "catalog.json")]
    if state is not None:
        (workdir / "state.json").write_text(json.dumps(state))
        args += ["--state", str(workdir / "state.json")]
    states = workdir / "states.jsonl"
    with open(states, "wb") as out, open(workdir / "tap.log", "ab") as log:
        tap = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log)
        target = subprocess.Popen(
            [TARGET, "--config", str(workdir / "target.json")],
            stdin=tap.stdout,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        tap_peak, target_peak = wait_peak_mb(tap), wait_peak_mb(target)
    lines = [line for line in states.read_text().splitlines() if line.strip()]
    last = json.loads(lines[-1]) if lines else state
    return last, tap.returncode == 0 and target.returncode == 0, tap_peak, target_peak


def soak(rows: int, workdir: Path) -> list[str]:
    workdir.mkdir(parents=True)
    faults = Faults(random_rate=FAULT_RATE, random_seed=7)
    print(f"\n== soak: {rows:,} rows with faults on", flush=True)
    with SandboxOrg(seed=2, scale=max(1, round(rows / ROWS_PER_SCALE))) as org:
        expected = org.count(STREAM)
        config = {
            **org.login_settings(),
            "objects": [STREAM],
            "api_type": "bulk",
            "retry_backoff_seconds": 0.05,
        }
        (workdir / "tap.json").write_text(json.dumps(config))
        discovered = subprocess.run(
            [TAP, "--config", str(workdir / "tap.json"), "--discover"],
            capture_output=True,
            check=True,
        ).stdout
        (workdir / "catalog.json").write_text(json.dumps(select(json.loads(discovered), [STREAM])))
        out = workdir / "out"
        (workdir / "target.json").write_text(
            json.dumps({"destination": str(out), "max_batch_rows": 100_000})
        )
        org.faults = faults  # faults on only for the pipeline runs
        state, attempts, peaks = None, 0, (0.0, 0.0)
        started = time.perf_counter()
        while True:
            attempts += 1
            state, completed, tap_peak, target_peak = _attempt(workdir, state)
            peaks = (max(peaks[0], tap_peak), max(peaks[1], target_peak))
            if completed:
                break
            if attempts >= MAX_ATTEMPTS:
                raise SystemExit(f"soak: the pipeline did not complete in {MAX_ATTEMPTS} attempts")
        elapsed = time.perf_counter() - started
        org.faults = Faults()
    ids = pa.chunked_array(
        [
            pq.read_table(p, columns=["Id"])["Id"].combine_chunks()
            for p in (out / STREAM).rglob("*.parquet")
        ]
    )
    distinct = pc.count_distinct(ids).as_py()
    lost, duplicates = expected - distinct, len(ids) - distinct
    line = (
        f"Soak: {expected:,} rows of {STREAM}, faults on (each API call meets a random fault with p={FAULT_RATE}):"
        f" {faults.total_injected} faults met ({', '.join(f'{k} {v}' for k, v in sorted(faults.injected.items()))}),"
        f" {attempts - 1} restarts from the last STATE, {lost} rows lost, {duplicates:,} duplicates before dedup,"
        f" {expected / elapsed:,.0f} rows/s overall; peak RSS tap {peaks[0]:.0f} MB, target {peaks[1]:.0f} MB."
    )
    print("  " + line, flush=True)
    if lost:
        raise SystemExit(f"soak: {lost} rows lost")
    return [line]
