"""``make bench``: records/s and peak RSS for every stage of the pipeline, with baselines, in one run.

Each measured program runs as its own process; its peak RSS is read from /proc (``harness``).
Baselines are measured in the same run on the same data: the SDK's defaults (simplejson writer,
RECURSIVE type conformance, jsonschema validation) and the floor (pyarrow reading the same Bulk CSV
and writing Parquet). Measurements under 10 s (``QUICK_SECONDS``) are the median of three runs,
``meltano run`` and the in-process rows excepted. Never a timed assertion: this prints figures, the
README quotes them.

    python -m bench.run --sizes 100000 1000000 [--ten-million] [--out bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import requests

from synthetic_org import SandboxOrg
from tap_salesforce_temporal.commands.catalog import select
from tools.project_copy import copy_project

from .harness import (
    BASELINE,
    BIN,
    ROWS_PER_SCALE,
    STREAM,
    TAP,
    TARGET,
    median_run,
    run_one,
    run_pipe,
    wait_tree,
)


@dataclass
class Result:
    name: str
    rows: int
    seconds: float
    peak_mb: float
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class Bench:
    def __init__(self, size: int, workdir: Path, meltano_project: Path | None = None) -> None:
        self.size = size
        # From 5M rows on, only our own paths run: the SDK-default baselines would take most of an
        # hour there; their rates at 1M are the reference.
        self.full = size < 5_000_000
        self.workdir = workdir
        self.meltano_project = meltano_project
        self.results: list[Result] = []

    def record(self, name: str, rows: int, seconds: float, peak: float, note: str = "") -> None:
        result = Result(name, rows, seconds, peak, note)
        self.results.append(result)
        print(f"  {name:<44} {result.rate:>12,.0f} rows/s  {peak:>7.0f} MB  {note}", flush=True)

    def run(self) -> list[Result]:
        scale = max(1, round(self.size / ROWS_PER_SCALE))
        started = time.perf_counter()
        with SandboxOrg(seed=1, scale=scale) as org:
            rows = org.count(STREAM)
            print(
                f"\n== {rows:,} rows of {STREAM} (org generated in {time.perf_counter() - started:.1f}s)",
                flush=True,
            )
            csv_path = self.sandbox_bulk(org, rows)
            self.floor(csv_path, rows)
            config, catalog = self.tap_files(org)
            for api in ("rest", "bulk") if self.full else ("bulk",):
                cfg = self.with_config(config, api_type=api)
                seconds, peak = median_run(
                    lambda cfg=cfg: run_one([TAP, "--config", str(cfg), "--catalog", str(catalog)])
                )
                self.record(f"tap alone, {api.upper()} -> /dev/null", rows, seconds, peak)
            bulk_cfg = self.with_config(config, api_type="bulk")
            self.pipelines(org, rows, config, catalog, bulk_cfg)
        if self.full:
            self.derivation()
        return self.results

    def pipelines(
        self, org: SandboxOrg, rows: int, config: dict, catalog: Path, bulk_cfg: Path
    ) -> None:
        """Target alone, then tap | target in RECORD and BATCH mode (and the baselines when full)."""
        tap = [TAP, "--config", str(bulk_cfg), "--catalog", str(catalog)]
        baseline_tap = [*BASELINE, "tap", "--config", str(bulk_cfg), "--catalog", str(catalog)]
        if self.full:
            seconds, peak = median_run(lambda: run_one(baseline_tap))
            self.record("baseline: tap, SDK defaults, BULK", rows, seconds, peak)
        recorded = self.workdir / "recorded.singer"
        run_one(tap, stdout=recorded)
        for fmt in ("parquet", "jsonl") if self.full else ("parquet",):
            seconds, peak = median_run(
                lambda fmt=fmt: run_one(
                    [TARGET, "--config", str(self.target_config(fmt))], stdin=recorded
                )
            )
            self.record(f"target alone, {fmt} from a Singer file", rows, seconds, peak)
        if self.full:
            seconds, peak = median_run(
                lambda: run_one(
                    [*BASELINE, "target", "--config", str(self.target_config("parquet"))],
                    stdin=recorded,
                )
            )
            self.record("baseline: target, SDK defaults, parquet", rows, seconds, peak)
        recorded.unlink()
        self.pipe("tap | target, RECORD mode, BULK -> parquet", rows, tap)
        batch_cfg = self.with_config(
            config,
            api_type="bulk",
            batch_config={
                "encoding": {"format": "parquet", "compression": "none"},
                "storage": {"root": (self.workdir / "batches").as_uri(), "prefix": "b-"},
                "batch_size": 100_000,
            },
        )
        self.pipe(
            "tap | target, BATCH mode, BULK -> parquet",
            rows,
            [TAP, "--config", str(batch_cfg), "--catalog", str(catalog)],
        )
        if self.full and self.meltano_project is not None:
            self.meltano(org, rows)
        if self.full:
            self.pipe("baseline: tap | target, SDK defaults", rows, baseline_tap, baseline=True)

    def pipe(self, name: str, rows: int, tap: list[str], *, baseline: bool = False) -> None:
        target = [TARGET] if not baseline else [*BASELINE, "target"]
        seconds, tap_peak, target_peak = median_run(
            lambda: run_pipe(tap, [*target, "--config", str(self.target_config("parquet"))])
        )
        note = f"tap {tap_peak:.0f} MB, target {target_peak:.0f} MB"
        self.record(name, rows, seconds, max(tap_peak, target_peak), note)

    def meltano(self, org: SandboxOrg, rows: int) -> None:
        """``meltano run tap-salesforce-temporal target-events``: RECORD mode, Meltano in between."""
        assert self.meltano_project is not None
        out = self.workdir / "out-meltano"
        env = {
            **meltano_env(self.meltano_project),
            **{f"TAP_SALESFORCE_TEMPORAL_{k.upper()}": v for k, v in org.login_settings().items()},
            "TAP_SALESFORCE_TEMPORAL_EMBEDDED_ORG": "false",
            "TAP_SALESFORCE_TEMPORAL_API_TYPE": "bulk",
            "TAP_SALESFORCE_TEMPORAL_OBJECTS": json.dumps([STREAM]),
            "TAP_SALESFORCE_TEMPORAL__SELECT": json.dumps([f"{STREAM}.*"]),
            "TARGET_EVENTS_DESTINATION": str(out),
            "TARGET_EVENTS_MAX_BATCH_ROWS": "100000",
        }
        cmd = [
            str(BIN / "meltano"),
            "run",
            "--no-state-update",
            "tap-salesforce-temporal",
            "target-events",
        ]
        started = time.perf_counter()
        with open(self.workdir / "meltano.log", "wb") as log:
            process = subprocess.Popen(
                cmd, cwd=self.meltano_project, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            peaks = wait_tree(process)
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            raise SystemExit(f"meltano run failed; see {self.workdir / 'meltano.log'}")
        landed = sum(pq.read_metadata(p).num_rows for p in (out / STREAM).rglob("*.parquet"))
        assert landed == rows, f"meltano run landed {landed} of {rows} rows"
        tap_peak = max((v for k, v in peaks.items() if k.startswith("tap-")), default=0.0)
        target_peak = max((v for k, v in peaks.items() if k.startswith("target-")), default=0.0)
        self.record(
            "meltano run (RECORD mode, BULK -> parquet)",
            rows,
            elapsed,
            max(tap_peak, target_peak),
            f"tap {tap_peak:.0f} MB, target {target_peak:.0f} MB, meltano {peaks.get('meltano', 0):.0f} MB; includes Meltano's start-up",
        )

    def sandbox_bulk(self, org: SandboxOrg, rows: int) -> Path:
        """The sandbox's Bulk 2.0 CSV rate, end to end over HTTP (job, polls, locator pages)."""
        creds = org.credentials
        http = requests.Session()
        token = http.post(
            f"{org.base_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": creds.client_id,
                "client_secret": creds.client_secret,
            },
            timeout=30,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        api = f"{org.base_url}/services/data/v62.0/jobs/query"
        soql = f"SELECT Id, OpportunityId, Field, DataType, OldValue, NewValue, CreatedById, CreatedDate FROM {STREAM}"
        csv_path = self.workdir / "bulk.csv"
        # Warm-up: the first job renders the table's datetimes once (the org's "storage" format).
        warm = http.post(
            api,
            json={"operation": "query", "query": soql + " LIMIT 1"},
            headers=headers,
            timeout=300,
        ).json()
        http.get(f"{api}/{warm['id']}", headers=headers, timeout=30)
        started = time.perf_counter()
        job = http.post(
            api, json={"operation": "query", "query": soql}, headers=headers, timeout=300
        ).json()
        while (
            http.get(f"{api}/{job['id']}", headers=headers, timeout=30).json()["state"]
            != "JobComplete"
        ):
            pass
        locator, received = None, 0
        with open(csv_path, "wb") as out:
            while locator != "null":
                params: dict[str, object] = {"maxRecords": 100_000}
                if locator:
                    params["locator"] = locator
                page = http.get(
                    f"{api}/{job['id']}/results", params=params, headers=headers, timeout=300
                )
                body = page.content
                if received:
                    body = body.split(b"\n", 1)[1]  # one header line for the whole file
                out.write(body)
                received += int(page.headers["Sforce-NumberOfRecords"])
                locator = page.headers["Sforce-Locator"]
        elapsed = time.perf_counter() - started
        assert received == rows
        self.record(
            "sandbox Bulk 2.0 CSV over HTTP", rows, elapsed, _self_peak_mb(), "in the bench process"
        )
        return csv_path

    def floor(self, csv_path: Path, rows: int) -> None:
        started = time.perf_counter()
        table = pa_csv.read_csv(csv_path)
        pq.write_table(table, self.workdir / "floor.parquet", compression="zstd")
        self.record(
            "floor: pyarrow CSV -> Parquet",
            rows,
            time.perf_counter() - started,
            _self_peak_mb(),
            "in the bench process",
        )

    def tap_files(self, org: SandboxOrg) -> tuple[dict, Path]:
        config = {**org.login_settings(), "objects": [STREAM]}
        cfg = self.with_config(config)
        discovered = subprocess.run(
            [TAP, "--config", str(cfg), "--discover"], capture_output=True, check=True
        ).stdout
        catalog = self.workdir / "catalog.json"
        catalog.write_text(json.dumps(select(json.loads(discovered), [STREAM])))
        return config, catalog

    def with_config(self, config: dict, **overrides: object) -> Path:
        path = self.workdir / f"tap-{len(list(self.workdir.glob('tap-*.json')))}.json"
        path.write_text(json.dumps({**config, **overrides}))
        return path

    def target_config(self, fmt: str) -> Path:
        out = Path(tempfile.mkdtemp(dir=self.workdir, prefix=f"out-{fmt}-"))
        path = out.with_suffix(".json")
        path.write_text(
            json.dumps({"destination": str(out), "format": fmt, "max_batch_rows": 100_000})
        )
        return path

    def derivation(self) -> None:
        """micro_decision_events derivation alone: the pure rules over in-memory history rows."""
        from tap_salesforce_temporal.events import Derivation, field_history_events

        rows = [
            {
                "Id": f"017{i:015d}",
                "OpportunityId": f"006{i % 50_000:015d}",
                "Field": "Amount",
                "DataType": "Currency",
                "OldValue": "1.0",
                "NewValue": "2.0",
                "CreatedById": "005000000000000001",
                "CreatedDate": "2025-01-01T00:00:00.000Z",
            }
            for i in range(min(self.size, 1_000_000))
        ]
        d = Derivation(
            {"005000000000000001": "Standard"},
            {"006": "Opportunity"},
            "00D",
            "2025-01-01T00:00:00.000Z",
            "bench",
        )
        started = time.perf_counter()
        count = sum(
            1
            for _ in field_history_events(
                "OpportunityFieldHistory", "Opportunity", "OpportunityId", rows, d
            )
        )
        self.record(
            "micro_decision_events derivation (pure)",
            count,
            time.perf_counter() - started,
            _self_peak_mb(),
            "in the bench process",
        )


def meltano_env(project: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_PROJECT_ROOT": str(project),
    }


def prepare_meltano(workdir: Path) -> Path:
    """A copy of the project with its plugins installed (not timed: ``make demo`` does the same)."""
    project = copy_project(workdir / "meltano-project")
    print("\n== meltano install (not timed)", flush=True)
    subprocess.run(
        [str(BIN / "meltano"), "install"],
        cwd=project,
        env=meltano_env(project),
        check=True,
        capture_output=True,
    )
    return project


def discovery(workdir: Path, extra: int = 1000) -> str:
    """``--discover`` against an org with ``extra`` more custom objects (a large org's long tail)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with SandboxOrg(seed=1, scale=20, extra_objects=extra) as org:
        config = workdir / "discover.json"
        config.write_text(json.dumps(org.login_settings()))
        catalog = workdir / "catalog-large.json"
        seconds, peak = run_one([TAP, "--config", str(config), "--discover"], stdout=catalog)
        streams = len(json.loads(catalog.read_text())["streams"])
        describes = sum(1 for m, p, _ in org.requests if m == "GET" and p.endswith("/describe"))
    line = (
        f"Discovery of a {describes:,}-object org (describeGlobal + {describes:,} describes, {streams:,} streams"
        f" in the catalog): {seconds:.1f} s, tap peak RSS {peak:.0f} MB (goal: under 10 s)."
    )
    print(f"\n== {line}", flush=True)
    return line


THRESHOLD_LATENCY_MS = 300.0  # per API answer: a REST page of 2,000 history rows from a real org
THRESHOLD_JOB_SECONDS = 10.0  # a Bulk 2.0 query job from creation to JobComplete


def bulk_threshold(
    workdir: Path, sizes: tuple[int, ...] = (20_000, 50_000, 100_000, 200_000)
) -> list[str]:
    """REST vs Bulk wall time per object size with a real org's latencies emulated: where the
    cheaper path changes is what ``bulk_threshold`` (api_type=auto) should be."""
    workdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "",
        f"bulk_threshold: REST vs Bulk with {THRESHOLD_LATENCY_MS:.0f} ms per API answer and"
        f" {THRESHOLD_JOB_SECONDS:.0f} s per Bulk job emulated:",
        "",
        "| rows | REST s | Bulk s | REST API calls | Bulk API calls | faster |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    print("\n== bulk_threshold (emulated latency)", flush=True)
    for size in sizes:
        scale = max(1, round(size / ROWS_PER_SCALE))
        with SandboxOrg(
            seed=4,
            scale=scale,
            latency_ms=THRESHOLD_LATENCY_MS,
            bulk_job_seconds=THRESHOLD_JOB_SECONDS,
        ) as org:
            rows = org.count(STREAM)
            config = {**org.login_settings(), "objects": [STREAM]}
            discovered = subprocess.run(
                [TAP, "--config", str(_write(workdir / "c.json", config)), "--discover"],
                capture_output=True,
                check=True,
            ).stdout
            catalog = _write(workdir / "catalog.json", select(json.loads(discovered), [STREAM]))
            timings = {}
            for api in ("rest", "bulk"):
                before = len(org.requests)
                cfg = _write(workdir / f"{api}.json", {**config, "api_type": api})
                seconds, _ = run_one([TAP, "--config", str(cfg), "--catalog", str(catalog)])
                calls = sum(
                    1 for _, path, _ in org.requests[before:] if path.startswith("/services/data/")
                )
                timings[api] = (seconds, calls)
        faster = "REST" if timings["rest"][0] < timings["bulk"][0] else "Bulk"
        line = f"| {rows:,} | {timings['rest'][0]:.1f} | {timings['bulk'][0]:.1f} | {timings['rest'][1]} | {timings['bulk'][1]} | {faster} |"
        print("  " + line, flush=True)
        lines.append(line)
    return lines


def _write(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def target_memory(sizes: list[int], workdir: Path) -> list[Result]:
    """Peak RSS of the target alone at growing input sizes: memory follows the batch, not the data."""
    results = []
    schema = {"type": "SCHEMA", "stream": STREAM, "key_properties": ["Id"], "schema": {"properties": {
        "Id": {"type": "string"}, "OpportunityId": {"type": ["string", "null"]}, "Field": {"type": ["string", "null"]},
        "OldValue": {"type": ["string", "null"]}, "NewValue": {"type": ["string", "null"]},
        "CreatedDate": {"type": ["string", "null"], "format": "date-time"}}}}  # fmt: skip
    print("\n== target memory by input size", flush=True)
    for size in sizes:
        path = workdir / f"synthetic-{size}.singer"
        with open(path, "w") as out:
            out.write(json.dumps(schema) + "\n")
            for i in range(size):
                out.write(
                    f'{{"type":"RECORD","stream":"{STREAM}","record":{{"Id":"017{i:015d}","OpportunityId":"006{i % 99991:015d}",'
                    f'"Field":"Amount","OldValue":"{i}.0","NewValue":"{i + 1}.0","CreatedDate":"2025-01-01T00:00:00.000Z"}}}}\n'
                )
                if i % 50_000 == 0:
                    out.write(f'{{"type":"STATE","value":{{"n":{i}}}}}\n')
        out_dir = Path(tempfile.mkdtemp(dir=workdir, prefix="mem-"))
        config = out_dir.with_suffix(".json")
        config.write_text(json.dumps({"destination": str(out_dir)}))
        seconds, peak = run_one([TARGET, "--config", str(config)], stdin=path)
        result = Result(f"target alone, parquet, synthetic {size:,} rows", size, seconds, peak)
        print(f"  {result.name:<44} {result.rate:>12,.0f} rows/s  {peak:>7.0f} MB", flush=True)
        results.append(result)
        path.unlink()
    return results


def _self_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def render(all_results: dict[int, list[Result]]) -> str:
    lines = [
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| rows | measurement | records/s | peak RSS (MB) | vs SDK defaults | vs floor | note |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for _size, results in all_results.items():
        by_name = {r.name: r for r in results}
        floor = by_name.get("floor: pyarrow CSV -> Parquet")
        baselines = {
            "tap": by_name.get("baseline: tap, SDK defaults, BULK"),
            "target": by_name.get("baseline: target, SDK defaults, parquet"),
            "pipe": by_name.get("baseline: tap | target, SDK defaults"),
        }
        for r in results:
            kind = (
                "pipe"
                if "|" in r.name or r.name.startswith("meltano")
                else "target"
                if r.name.startswith("target")
                else "tap"
                if r.name.startswith("tap")
                else None
            )
            base = baselines.get(kind) if kind else None
            vs_base = f"{r.rate / base.rate:.1f}x" if base and base is not r and base.rate else ""
            vs_floor = (
                f"{r.rate / floor.rate:.2f}x" if floor and r is not floor and floor.rate else ""
            )
            lines.append(
                f"| {r.rows:,} | {r.name.replace('|', '->')} | {r.rate:,.0f} | {r.peak_mb:.0f} | {vs_base} | {vs_floor} | {r.note} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--ten-million", action="store_true", help="also run 10M rows (long)")
    parser.add_argument("--no-meltano", action="store_true", help="skip the meltano run row")
    parser.add_argument("--no-threshold", action="store_true", help="skip the bulk_threshold sweep")
    parser.add_argument(
        "--soak-rows",
        type=int,
        default=0,
        help="also soak this many rows with faults on (e.g. 10000000)",
    )
    parser.add_argument(
        "--objects-scale",
        type=int,
        default=20_000,
        help="org scale of the per-object table (20000: ~1M rows over every object; 0 skips it)",
    )
    parser.add_argument(
        "--no-whole-org",
        action="store_true",
        help="skip the whole-org section (250 ms per answer, 5 s per Bulk job; minutes)",
    )
    parser.add_argument(
        "--lake-runs",
        type=int,
        default=670,
        help="simulated 15-minute runs into a Delta table (a week: 670; 0 skips the lake section)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/RESULTS.md"))
    parser.add_argument(
        "--memory-sizes",
        type=int,
        nargs="*",
        default=[200_000, 2_000_000],
        help="target-alone RSS check sizes",
    )
    args = parser.parse_args(argv)
    sizes = [*args.sizes, *([10_000_000] if args.ten_million else [])]
    all_results: dict[int, list[Result]] = {}
    soak_lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        project = None if args.no_meltano else prepare_meltano(Path(tmp))
        for size in sizes:
            workdir = Path(tmp) / str(size)
            workdir.mkdir()
            all_results[size] = Bench(size, workdir, project).run()
        memory = target_memory(args.memory_sizes, Path(tmp)) if args.memory_sizes else []
        discovered = discovery(Path(tmp) / "discovery")
        objects: list[str] = []
        if args.objects_scale:
            from bench.objects import per_object

            objects = per_object(args.objects_scale, Path(tmp) / "objects")
        threshold = [] if args.no_threshold else bulk_threshold(Path(tmp) / "threshold")
        whole: list[str] = []
        if not args.no_whole_org:
            from bench.whole_org import whole_org

            whole = whole_org(Path(tmp) / "whole-org")
        lake: list[str] = []
        if args.lake_runs:
            from bench.lake import lake_bench

            # Merge cost at the goal's size; the week of runs on a smaller table (the file-count
            # bound does not depend on the table's size, the week's wall time does).
            merge = lake_bench(1_000_000, 1_000, 10, Path(tmp) / "lake-merge")
            week = lake_bench(50_000, 1_000, args.lake_runs, Path(tmp) / "lake-week")
            lake = [
                f"Delta merge of 1,000 changed rows into a 1,000,000-row table: median"
                f" {merge['median_merge_s']:.2f} s (goal: under 5 s).",
                f"{args.lake_runs} simulated 15-minute runs of 1,000 changed rows: {week['live_rows']:,}"
                f" live rows for {week['expected_rows']:,} live records, {week['duplicate_keys']}"
                f" duplicate keys, {week['live_files']} live file(s), {week['data_files_on_disk']}"
                f" data files on disk before vacuum's retention, {week['log_files']} log files.",
            ]
        if args.soak_rows:
            from bench.soak import soak

            soak_lines = soak(args.soak_rows, Path(tmp) / "soak")
    table = render(all_results) + "\n" + discovered + "\n" + "\n".join(threshold) + "\n"
    if objects:
        table += "\n".join(objects) + "\n"
    if whole:
        table += "\n" + "\n".join(whole) + "\n"
    if lake:
        table += "\n" + "\n".join(lake) + "\n"
    if soak_lines:
        table += "\n" + "\n".join(soak_lines) + "\n"
    if len(memory) >= 2:
        ratio = memory[-1].peak_mb / memory[0].peak_mb
        table += f"\nTarget peak RSS: {memory[0].peak_mb:.0f} MB at {memory[0].rows:,} rows, {memory[-1].peak_mb:.0f} MB at {memory[-1].rows:,} rows ({ratio:.2f}x).\n"
    print("\n" + table)
    args.out.write_text("# Benchmark results (`make bench`)\n\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
