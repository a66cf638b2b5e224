"""``make bench``'s whole-org section: every object of an org that answers like a real one.

A real org answers each API call in 100-500 ms and runs each Bulk job for seconds; the rest of the
bench runs against an org that answers in microseconds, where waiting never shows. Here the
embedded org waits ``latency_ms`` before every answer and keeps each Bulk job running for
``bulk_job_seconds``, and each case runs with ``max_concurrency`` 1 (one stream after another) as
the baseline, in the same run:

- full sync of every object of the org (``scale`` 21000: ~690k rows), RECORD lines to /dev/null;
- an incremental run of a 200-object org (the seeded objects plus empty custom ones) that finds
  almost nothing new: a COUNT and a query per object;
- discovery of a 1,000-object org (``max_workers`` 32, the default, against 4, the first one).

Reported: wall seconds, API calls (the org's request log), the tap's CPU seconds (what bounds a
run once its waiting overlaps: the tap's own work runs one stream at a time) and peak RSS. Never a
timed assertion: this prints figures that README quotes.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

from synthetic_org import SandboxOrg

from .harness import TAP, run_one

CONCURRENCY = 8


def _config(org: SandboxOrg, path: Path, **settings: object) -> Path:
    path.write_text(json.dumps({**org.login_settings(), "lookback_window": 0, **settings}))
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(
    org: SandboxOrg, workdir: Path, name: str, args: list[str], **settings: object
) -> tuple[float, int, float, Path, float]:
    """(wall seconds, API calls, peak RSS MB, stdout file, CPU seconds) of one tap run."""
    config = _config(org, workdir / f"{name}.json", **settings)
    out = workdir / f"{name}.out"
    before, cpu = len(org.requests), _children_cpu()
    seconds, peak = run_one([TAP, "--config", str(config), *args], stdout=out)
    return seconds, len(org.requests) - before, peak, out, _children_cpu() - cpu


def _last_state(out: Path) -> dict:
    state: dict = {}
    with open(out, "rb") as handle:
        for line in handle:
            if line.startswith(b'{"type":"STATE"'):
                state = json.loads(line)["value"]
    return state


def _row(case: str, label: str, result: tuple[float, int, float, Path, float], base: float) -> str:
    seconds, calls, peak, _, cpu = result
    return (
        f"| {case} | {label} | {seconds:.1f} | {base / seconds:.2f}x | {calls:,} | {cpu:.1f} "
        f"| {peak:.0f} |"
    )


def whole_org(
    workdir: Path,
    *,
    scale: int = 21_000,
    objects: int = 200,
    discovery_objects: int = 1000,
    latency_ms: float = 250,
    bulk_job_seconds: float = 5.0,
) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"### Whole org at {latency_ms:g} ms per answer, {bulk_job_seconds:g} s per Bulk job",
        "",
        "| case | concurrency | wall s | speed-up | API calls | tap CPU s | tap peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    slow = {"latency_ms": latency_ms, "bulk_job_seconds": bulk_job_seconds}
    with SandboxOrg(seed=1, scale=scale, **slow) as org:
        rows = sum(org.count(o.name) for o in org.objects if o.name != "FieldHistoryArchive")
        case = f"full sync, {len(org.objects)} objects, {rows:,} rows"
        base = _measure(org, workdir, "full-1", [], max_concurrency=1)
        fast = _measure(org, workdir, "full-n", [], max_concurrency=CONCURRENCY)
        lines += [_row(case, "1", base, base[0]), _row(case, str(CONCURRENCY), fast, base[0])]
    extra = max(0, objects - 24)
    with SandboxOrg(seed=1, scale=20, extra_objects=extra, **slow) as org:
        first = _measure(org, workdir, "seed", [], max_concurrency=CONCURRENCY)
        state = workdir / "state.json"
        state.write_text(json.dumps(_last_state(first[3])))
        args = ["--state", str(state)]
        org.advance(3)
        case = f"incremental, {len(org.objects)} objects"
        base = _measure(org, workdir, "inc-1", args, max_concurrency=1)
        fast = _measure(org, workdir, "inc-n", args, max_concurrency=CONCURRENCY)
        lines += [_row(case, "1", base, base[0]), _row(case, str(CONCURRENCY), fast, base[0])]
    with SandboxOrg(seed=1, scale=20, extra_objects=discovery_objects, **slow) as org:
        case = f"discovery, {len(org.objects)} objects"
        base = _measure(org, workdir, "disc-4", ["--discover"], max_workers=4)
        fast = _measure(org, workdir, "disc-32", ["--discover"], max_workers=32)
        lines += [_row(case, "4 workers", base, base[0]), _row(case, "32 workers", fast, base[0])]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=21_000)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--discovery-objects", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=250)
    parser.add_argument("--bulk-job-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-whole-org-") as tmp:
        lines = whole_org(
            Path(tmp),
            scale=args.scale,
            objects=args.objects,
            discovery_objects=args.discovery_objects,
            latency_ms=args.latency_ms,
            bulk_job_seconds=args.bulk_job_seconds,
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
