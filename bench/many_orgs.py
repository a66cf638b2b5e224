"""Many-org figures (issue #29): K small synthetic orgs, each answering like a real one
(``latency_ms`` before every answer, Bulk jobs running ``bulk_job_seconds``), all synced into
ONE Delta lake (``org_id_column`` on), for several K: does wall time grow sub-linearly with orgs?

    python -m bench.many_orgs [--orgs 1 10 100] [--scale 10] [--latency-ms 250]
                              [--bulk-job-seconds 3] [--mode flow|processes] [--cap 16]

``flow``: the Prefect flow ``sync_orgs`` with 1 shard per org (its ``plan`` per org, then each
org's shard and its ``events`` shard as tasks, up to the flow's 16 at once). ``processes``: one
``tap | target`` per org with the whole selection (the catalog planned once, for the first
org: every org has the same objects), at most ``--cap`` orgs at once. Each org is its own seed,
so its own org id. Orgs are served from threads of this process.

Reported per K: wall seconds, rows, the children's CPU seconds (taps, targets, plans, and for
the flow Prefect's temporary server), this process's CPU (the orgs' HTTP threads and the flow),
the peak summed RSS of all descendant processes (sampled every 0.5 s), and wall(K) / (K x
wall(1)): under 1 is sub-linear. After each K, every object's Delta table is checked to hold
each org's rows exactly once (distinct rows per ``_sdc_org_id`` equal the org's truth, no
(org id, Id) twice): reported in the last column, "ok" or what is off. Never a timed assertion.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pyarrow.compute as pc
from deltalake import DeltaTable

from bench.scale_out import shard_plan
from flows.scale_out import Org, sync_orgs
from flows.shard import ShardJob, run_pipe
from synthetic_org import SandboxOrg

OBJECTS = ["Account", "Contact", "Opportunity", "Case", "OpportunityFieldHistory"]
FIRST_SEED = 1000


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class PeakRss:
    """The largest summed RSS of this process's descendants seen while running (MiB)."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.wait(0.5):
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(entry.name)
                parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * page
            mine, total = os.getpid(), 0
            for pid, size in rss.items():
                up = parents.get(pid)
                while up is not None and up > 1 and up != mine:
                    up = parents.get(up)
                total += size if up == mine else 0
            self.peak = max(self.peak, total / 2**20)


def _tap_config(org: SandboxOrg, bulk_threshold: int) -> dict:
    # A low Bulk threshold: small orgs' larger objects still go through (slow) Bulk jobs.
    return {
        **org.login_settings(),
        "org_id_column": True,
        "objects": OBJECTS,
        "bulk_threshold": bulk_threshold,
    }


def _truth(org: SandboxOrg, name: str) -> int:
    """Rows a query (not queryAll) returns: deleted and archived rows hidden."""
    table = org.org.table(name)
    for flag in ("IsDeleted", "IsArchived"):
        if flag in table.column_names:
            table = table.filter(pc.invert(pc.fill_null(table[flag], False)))
    return table.num_rows


def _run_flow(orgs: list[SandboxOrg], work: Path, lake: Path, bulk_threshold: int) -> None:
    sync_orgs(
        orgs=[Org(f"org-{i}", _tap_config(org, bulk_threshold)) for i, org in enumerate(orgs)],
        shards=1,
        target_config={"destination": str(lake), "format": "delta"},
        state_url=str(work / "state"),
        workdir=str(work / "flow"),
    )


def _whole_catalog(org: SandboxOrg, work: Path, bulk_threshold: int) -> Path:
    """Every planned stream selected in one catalog (planned once: every org has the same
    objects; not timed)."""
    first = work / "first.json"
    first.write_text(json.dumps(_tap_config(org, bulk_threshold)))
    plan = shard_plan(first, 1, work / "plan")
    whole = json.loads(Path(plan["shards"][0]["catalog"]).read_text())
    for entry in whole["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in plan["rows"]
    catalog = work / "whole.catalog.json"
    catalog.write_text(json.dumps(whole))
    return catalog


def _run_processes(
    orgs: list[SandboxOrg], work: Path, lake: Path, bulk_threshold: int, cap: int
) -> list[str]:
    """One ``tap | target`` per org; the failed ones ("org: last line of its error")."""
    catalog = work / "whole.catalog.json"
    target = work / "target.json"
    target.write_text(json.dumps({"destination": str(lake), "format": "delta"}))
    jobs = []
    for i, org in enumerate(orgs):
        config = work / f"org-{i}.json"
        config.write_text(json.dumps(_tap_config(org, bulk_threshold)))
        logs = str(work / "logs" / f"org-{i}")
        jobs.append(ShardJob(f"org-{i}", "all", (), str(config), str(catalog), str(target), logs))
    with ThreadPoolExecutor(cap) as pool:  # at most ``cap`` orgs at once
        outcomes = list(pool.map(lambda job: run_pipe(job, None, lambda _: None), jobs))
    failed = zip(jobs, outcomes, strict=True)
    return [f"{job.org}: {o.error.splitlines()[-1]}" for job, o in failed if not o.ok]


def _sync(
    mode: str, orgs: list[SandboxOrg], work: Path, lake: Path, bulk_threshold: int, cap: int
) -> list[str]:
    """Sync every org; the failures (the flow raises on any: not returned)."""
    if mode == "flow":
        _run_flow(orgs, work, lake, bulk_threshold)
        return []
    return _run_processes(orgs, work, lake, bulk_threshold, cap)


def _check(orgs: list[SandboxOrg], lake: Path) -> tuple[int, str]:
    """Each object's table against each org's truth: (rows in the lake, "ok" or what is off:
    per table, the duplicated (org id, Id) pairs and the orgs whose count differs)."""
    landed, problems = 0, []
    for name in OBJECTS:
        table = DeltaTable(str(lake / name)).to_pyarrow_table(columns=["_sdc_org_id", "Id"])
        pairs = list(zip(table["_sdc_org_id"].to_pylist(), table["Id"].to_pylist(), strict=True))
        landed += len(pairs)
        counts = Counter(org_id for org_id, _ in set(pairs))
        wrong = [o.org_id for o in orgs if counts.get(o.org_id, 0) != _truth(o, name)]
        if len(pairs) != len(set(pairs)) or wrong:
            duplicated = {org_id for (org_id, _), n in Counter(pairs).items() if n > 1}
            problems.append(
                f"{name}: {len(pairs) - len(set(pairs))} extra rows of "
                f"{len(duplicated)} orgs, {len(wrong)} orgs missing rows"
            )
    return landed, "; ".join(problems) or "ok"


def measure(
    sizes: list[int],
    scale: int,
    latency_ms: float,
    bulk_seconds: float,
    bulk_threshold: int,
    mode: str,
    cap: int,
    keep: Path | None = None,
) -> list[str]:
    lines, base = [], None
    for k in sizes:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            orgs = [
                stack.enter_context(
                    SandboxOrg(
                        seed=FIRST_SEED + i,
                        scale=scale,
                        latency_ms=latency_ms,
                        bulk_job_seconds=bulk_seconds,
                    )
                )
                for i in range(k)
            ]
            work, lake = Path(tmp), Path(tmp) / "lake"
            if mode == "processes":
                _whole_catalog(orgs[0], work, bulk_threshold)
            children, own = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
            with PeakRss() as memory:
                started = time.monotonic()
                failed = _sync(mode, orgs, work, lake, bulk_threshold, cap)
                seconds = time.monotonic() - started
            children = _cpu(resource.RUSAGE_CHILDREN) - children
            own = _cpu(resource.RUSAGE_SELF) - own
            rows, verdict = _check(orgs, lake)
            if failed:
                print("\n".join(failed), flush=True)
                verdict = f"{len(failed)} orgs' pipes failed; {verdict}"
            if keep:
                shutil.copytree(lake, keep / f"lake-{k}", dirs_exist_ok=True)
        base = base or seconds
        lines.append(
            f"| {k} | {rows:,} | {seconds:.1f} | {children:.1f} | {own:.1f} "
            f"| {memory.peak:,.0f} | {seconds / (k * base):.2f} | {verdict} |"
        )
        print(lines[-1], flush=True)  # a long run shows its progress
    header = [
        f"Many orgs ({mode}), scale {scale}, objects {', '.join(OBJECTS)}, latency "
        f"{latency_ms:g} ms, Bulk jobs {bulk_seconds:g} s (objects of {bulk_threshold}+ rows), "
        f"{os.cpu_count()} cores:",
        "",
        "| orgs (K) | rows in the lake | wall s | CPU s (children) | CPU s (orgs + flow) "
        "| peak RSS MiB | wall(K) / (K x wall(1)) | each org's rows once |",
        "|---|---|---|---|---|---|---|---|",
    ]
    return header + lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.many_orgs", description=__doc__)
    parser.add_argument("--orgs", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=250)
    parser.add_argument("--bulk-job-seconds", type=float, default=3)
    parser.add_argument("--bulk-threshold", type=int, default=30)
    parser.add_argument("--mode", choices=["flow", "processes"], default="flow")
    parser.add_argument("--cap", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="copy each K's lake here (to inspect)")
    args = parser.parse_args(argv)
    lines = measure(
        args.orgs,
        args.scale,
        args.latency_ms,
        args.bulk_job_seconds,
        args.bulk_threshold,
        args.mode,
        args.cap,
        args.keep,
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
