"""Scale-out figures (issue #29): one ``tap | target`` vs N shards as processes vs the Prefect
flow, the same org answering like a real one (``latency_ms`` before every answer, Bulk jobs
running ``bulk_job_seconds``), each into its own fresh Delta lake, in the same run.

    python -m bench.scale_out [--scale 3000] [--shards 4] [--latency-ms 250] [--bulk-job-seconds 5]

Reported: wall seconds (the sharded cases include their ``plan``), the children's CPU seconds
(taps and targets) and CPU per row, and the machine's core count: N shards only run side by side
on as many cores as there are. Never a timed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from flows.scale_out import Org, sync_orgs
from flows.shard import TAP, ShardJob, run_pipe
from synthetic_org import SandboxOrg


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _job(work: Path, name: str, config: Path, catalog: str, lake: Path) -> ShardJob:
    target = work / f"{name}.target.json"
    target.write_text(json.dumps({"destination": str(lake), "format": "delta"}))
    return ShardJob("org", name, (), str(config), catalog, str(target), str(work / "logs" / name))


def _pipes(jobs: list[ShardJob]) -> None:
    with ThreadPoolExecutor(len(jobs)) as pool:
        for outcome in pool.map(lambda job: run_pipe(job, None, lambda _: None), jobs):
            assert outcome.ok, outcome.error


def measure(scale: int, shards: int, latency_ms: float, bulk_job_seconds: float) -> list[str]:
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        SandboxOrg(
            seed=3, scale=scale, latency_ms=latency_ms, bulk_job_seconds=bulk_job_seconds
        ) as org,
    ):
        work = Path(tmp)
        config = work / "tap.json"
        config.write_text(json.dumps({**org.login_settings(), "org_id_column": True}))
        plan = shard_plan(config, shards, work / "plan")
        total = sum(plan["rows"].values())
        # One process: the whole selection (every shard's catalog selects a part of the same
        # discovered catalog; the union is the plan's streams).
        whole = work / "whole.catalog.json"
        catalog = json.loads(Path(plan["shards"][0]["catalog"]).read_text())
        for entry in catalog["streams"]:
            for item in entry["metadata"]:
                if item["breadcrumb"] == []:
                    item["metadata"]["selected"] = entry["tap_stream_id"] in plan["rows"]
        whole.write_text(json.dumps(catalog))
        cases = {
            "1 process (tap | target)": lambda: _pipes(
                [_job(work, "whole", config, str(whole), work / "lake-1")]
            ),
            f"{shards} shards + events, as processes (plan included)": lambda: _sharded(
                work, config, shards
            ),
            f"Prefect flow, {shards} shards + events (plan included)": lambda: sync_orgs(
                orgs=[Org("org", json.loads(config.read_text()))],
                shards=shards,
                target_config={"destination": str(work / "lake-3"), "format": "delta"},
                state_url=str(work / "state"),
                workdir=str(work / "flow"),
            ),
        }
        base = None
        for label, run in cases.items():
            cpu, started = _cpu(), time.monotonic()
            run()
            seconds, used = time.monotonic() - started, _cpu() - cpu
            base = base or seconds
            rows.append(
                f"| {label} | {seconds:.1f} | {base / seconds:.2f}x | {used:.1f} "
                f"| {used / total * 1e6:.0f} |"
            )
    header = [
        f"Scale-out, scale {scale} ({total:,} rows), latency {latency_ms:g} ms, Bulk jobs "
        f"{bulk_job_seconds:g} s, {os.cpu_count()} cores:",
        "",
        "| case | wall s | vs 1 process | CPU s (taps+targets) | CPU µs/row |",
        "|---|---|---|---|---|",
    ]
    return header + rows


def shard_plan(config: Path, shards: int, out: Path) -> dict:
    """``plan --shards``: the shards' catalogs in ``out`` and plan.json."""
    args = ["plan", "--shards", str(shards), "--config", str(config), "--output", str(out)]
    subprocess.run([*TAP, *args], check=True, capture_output=True)
    plan: dict = json.loads((out / "plan.json").read_text())
    return plan


def _sharded(work: Path, config: Path, shards: int) -> None:
    plan = shard_plan(config, shards, work / "plan-2")
    _pipes(
        [
            _job(work, f"s-{entry['shard']}", config, entry["catalog"], work / "lake-2")
            for entry in plan["shards"]
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--scale", type=int, default=3000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=250)
    parser.add_argument("--bulk-job-seconds", type=float, default=5)
    args = parser.parse_args(argv)
    lines = measure(args.scale, args.shards, args.latency_ms, args.bulk_job_seconds)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
