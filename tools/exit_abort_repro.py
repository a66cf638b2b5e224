"""Statistical repro: run the quota-stopped tap many times and count its exit codes.

Not part of the suite (it is a loop over a race). The scenario is the one of
``tests/tap/test_batch_mode.py::test_given_the_quota_stops_a_bulk_job_in_batch_mode_then_no_file_moves_the_bookmark``:
a Bulk job stopped part-way by the quota guard, which must exit with ``quota_exit_code`` 3, never
abort (-6, "terminate called without an active exception"). Keep the CPU busy meanwhile
(``python -c 'while True: pass' &`` once per core) to widen the race.

    python -m tools.exit_abort_repro --runs 100 --mode batch --api bulk
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from synthetic_org import SandboxOrg

TAP = str(Path(sys.executable).parent / "tap-salesforce-temporal")


def _allow_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--mode", choices=("batch", "record"), default="batch")
    parser.add_argument("--api", choices=("bulk", "rest"), default="bulk")
    parser.add_argument("--usage-start", type=int, default=790)
    parser.add_argument("--show", type=int, default=2, help="stderr tails to print of odd runs")
    parser.add_argument("--cores", type=Path, help="keep the core dumps of aborted runs here")
    args = parser.parse_args()
    codes: collections.Counter[int] = collections.Counter()
    shown = 0
    with (
        SandboxOrg(
            seed=31, scale=3000, api_usage_start=args.usage_start, daily_api_limit=1000
        ) as org,
        tempfile.TemporaryDirectory() as tmp,
    ):
        root = Path(tmp)
        config = {
            **org.login_settings(),
            "retry_backoff_seconds": 0.01,
            "lookback_window": 0,
            "objects": ["OpportunityFieldHistory"],
            "api_type": args.api,
            "bulk_page_records": 1000,
            "max_api_usage_percent": 80,
            "event_types": ["activity"],
        }
        if args.mode == "batch":
            config["batch_config"] = {
                "encoding": {"format": "parquet", "compression": "none"},
                "storage": {"root": (root / "batches").as_uri(), "prefix": "batch-"},
                "batch_size": 1500,
            }
        (root / "config.json").write_text(json.dumps(config))
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
        for n in range(args.runs):
            org.api_usage = args.usage_start
            done = subprocess.run(  # noqa: S603 (the venv's own tap command)
                [TAP, "--config", str(root / "config.json")],
                capture_output=True,
                text=True,
                env=env,
                check=False,
                timeout=300,
                cwd=tmp,
                preexec_fn=_allow_core if args.cores else None,
            )
            core = root / "core"
            if args.cores and core.exists():
                args.cores.mkdir(parents=True, exist_ok=True)
                core.rename(args.cores / f"core.{n}")
            codes[done.returncode] += 1
            if done.returncode != 3 and shown < args.show:
                shown += 1
                print(f"--- run {n}: rc {done.returncode}\n{done.stderr[-4000:]}", flush=True)  # noqa: T201
    print(f"{args.mode}/{args.api}: {args.runs} runs, exit codes {dict(sorted(codes.items()))}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
