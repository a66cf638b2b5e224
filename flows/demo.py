"""``make demo-scale``: the flow on this machine, two synthetic orgs, four shards each, one lake.

``python -m flows.demo [--shards 4] [--scale 400] [--latency-ms 0] [--output output/scale]``

Starts two synthetic orgs (seeds 1 and 2: two org ids) on 127.0.0.1, runs ``sync_orgs`` into
one Delta lake in a local folder, STATE per org and shard in a folder beside it, and prints
where everything is. Run it twice: the second run resumes every shard from its STATE. Prefect
runs the flow on a temporary local server unless ``PREFECT_API_URL`` names one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synthetic_org import SandboxOrg

from .scale_out import Org, sync_orgs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.demo", description=__doc__)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--scale", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--output", type=Path, default=Path("output/scale"))
    args = parser.parse_args(argv)
    out = args.output.resolve()
    lake, state, work = out / "lake", out / "state", out / "work"
    with (
        SandboxOrg(seed=1, scale=args.scale, latency_ms=args.latency_ms) as first,
        SandboxOrg(seed=2, scale=args.scale, latency_ms=args.latency_ms) as second,
    ):
        orgs = [
            Org(f"org-{i}", dict(org.login_settings())) for i, org in enumerate((first, second), 1)
        ]
        result = sync_orgs(
            orgs=orgs,
            shards=args.shards,
            target_config={"destination": str(lake), "format": "delta"},
            state_url=str(state),
            workdir=str(work),
        )
        ids = {org.name: sandbox.org_id for org, sandbox in zip(orgs, (first, second), strict=True)}
    print(f"orgs (org id): {json.dumps(ids)}")  # noqa: T201
    for shard in result.shards:
        resumed = "resumed" if shard.start_state.get("bookmarks") else "first run"
        print(  # noqa: T201
            f"  {shard.org}/{shard.shard}: {len(shard.streams)} streams, "
            f"{shard.seconds:.1f} s ({resumed})"
        )
    print(f"lake (Delta, one table per stream, rows keyed by _sdc_org_id): {lake}")  # noqa: T201
    print(f"STATE per org and shard: {state}")  # noqa: T201
    print(f"plans, catalogs, logs: {work}")  # noqa: T201
    print(f"decision report (JSON): {result.report}")  # noqa: T201
    print(f"HTML: target-events report {lake} --format html --output {out / 'report.html'}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
