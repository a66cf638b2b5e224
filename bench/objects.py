"""``make bench``'s per-object table: every object of the org, the mix users really sync.

The main bench measures one narrow object (OpportunityFieldHistory). Real syncs are dominated by
wide objects with compound fields (Account, Contact: addresses) and by the derived events, so this
section reads the whole org once and prices each stream on its own:

- tap µs/row: the stream's seconds in the tap's run summary (RECORD and BATCH runs) per row;
- target µs/row, RECORD: target-events alone on the stream's recorded lines, minus its fixed
  start-up cost (the same target on the stream's SCHEMA alone), per row;
- target µs/row, BATCH: the same on the stream's BATCH messages (the tap's Parquet files);
- the whole-org mix through ``tap | target`` in RECORD and BATCH mode against the SDK-default pipeline
  (bench/baselines.py) on the same org.

Never a timed assertion: this prints figures that README quotes.

``python -m bench.objects --scale 10000 --workdir DIR [--streams ...]`` prints the target RECORD
column alone (and µs per field), the org recorded into DIR once: for profiling the target;
``--mix`` prints the whole-org mix alone (RECORD and BATCH against the SDK defaults).
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from synthetic_org import SandboxOrg

from .harness import BASELINE, TAP, TARGET, median_run, run_one, run_pipe

AMPLIFIED_ROWS = 100_000  # RECORD rows per target measurement, the stream's lines repeated
AMPLIFIED_BYTES = 200 * 1024 * 1024  # ... or this much input, whichever comes first
_SUMMARY = re.compile(r"Run summary \| (\S+)\s+([\d,]+) (\w+)\s+\d+\s+([\d.]+)")


def _tap_seconds(stderr: str) -> dict[str, float]:
    """Per-stream seconds from the tap's run summary (the events' sources summed)."""
    seconds: dict[str, float] = defaultdict(float)
    for match in _SUMMARY.finditer(stderr):
        seconds[match[1].split(":")[0]] += float(match[4])
    return seconds


def _split(recorded: Path, outdir: Path) -> dict[str, tuple[Path, int]]:
    """One Singer file per stream (its SCHEMA, then its RECORD or BATCH lines), and its rows."""
    outdir.mkdir(parents=True, exist_ok=True)
    handles: dict[str, object] = {}
    rows: dict[str, int] = defaultdict(int)
    with open(recorded, "rb") as source:
        for line in source:
            message = json.loads(line)
            stream = message.get("stream")
            if message["type"] not in ("SCHEMA", "RECORD", "BATCH") or not stream:
                continue
            if stream not in handles:
                handles[stream] = open(outdir / f"{stream}.singer", "wb")  # noqa: SIM115
            handles[stream].write(line)  # type: ignore[attr-defined]
            if message["type"] == "RECORD":
                rows[stream] += 1
            elif message["type"] == "BATCH":
                rows[stream] += int(message.get("manifest_rows", 0))
    for handle in handles.values():
        handle.close()  # type: ignore[attr-defined]
    return {s: (outdir / f"{s}.singer", rows[s]) for s in handles}


def _schema_only(path: Path) -> Path:
    first = path.read_bytes().split(b"\n", 1)[0]
    empty = path.with_suffix(".empty")
    empty.write_bytes(first + b"\n")
    return empty


def _batch_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    total = 0
    for line in path.read_bytes().splitlines():
        message = json.loads(line)
        if message["type"] == "BATCH":
            for uri in message["manifest"]:
                total += pq.read_metadata(uri.removeprefix("file://")).num_rows
    return total


def _mix_configs(workdir: Path, tap_config: dict) -> tuple[Path, Path, Path]:
    """The tap's RECORD and BATCH configs and the target's, written into ``workdir``."""
    record_cfg = workdir / "record.json"
    record_cfg.write_text(json.dumps(tap_config))
    batch_cfg = workdir / "batch.json"
    batch_cfg.write_text(
        json.dumps(
            {
                **tap_config,
                "batch_config": {
                    "encoding": {"format": "parquet", "compression": "none"},
                    "storage": {"root": (workdir / "batches").as_uri(), "prefix": "b-"},
                    "batch_size": 100_000,
                },
            }
        )
    )
    target_cfg = workdir / "target.json"
    target_cfg.write_text(json.dumps({"destination": str(workdir / "out"), "qa_mode": "off"}))
    return record_cfg, batch_cfg, target_cfg


def per_object(scale: int, workdir: Path) -> list[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"\n== every object of the org (scale {scale:,})", flush=True)
    with SandboxOrg(seed=1, scale=scale) as org:
        # One stream at a time: each stream's seconds in the run summary are its own.
        config = {**org.login_settings(), "lookback_window": 0, "max_concurrency": 1}
        record_cfg, batch_cfg, target_cfg = _mix_configs(workdir, config)
        recorded, batches = workdir / "recorded.singer", workdir / "batches.singer"
        tap_record = _run_tap(record_cfg, recorded)
        tap_batch = _run_tap(batch_cfg, batches)
        record_files = _split(recorded, workdir / "record")
        batch_files = _split(batches, workdir / "batch")
        lines = [
            "",
            f"Per object, at scale {scale:,} ({sum(r for _, r in record_files.values()):,} rows over"
            f" {len(record_files)} streams); µs per row: the tap's wall seconds per stream (its run"
            " summary), the target's CPU time on its recorded lines (repeated to at least 100,000 rows"
            " in RECORD mode) with its fixed start-up taken out:",
            "",
            "| stream | rows | tap RECORD | tap BATCH | target RECORD | target BATCH |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for stream in sorted(record_files):
            path, rows = record_files[stream]
            if not rows:
                continue
            target_record = _target_us(target_cfg, path, rows)
            batch = batch_files.get(stream)
            target_batch = (
                _target_us(target_cfg, batch[0], _batch_rows(batch[0]), repeat=False)
                if batch
                else None
            )
            line = (
                f"| {stream} | {rows:,} | {_us(tap_record.get(stream), rows)} |"
                f" {_us(tap_batch.get(stream), rows)} | {target_record:.1f} |"
                f" {'' if target_batch is None else f'{target_batch:.1f}'} |"
            )
            print("  " + line, flush=True)
            lines.append(line)
        total = sum(r for _, r in record_files.values())
        mix = whole_org_mix(record_cfg, batch_cfg, target_cfg, total)
    return [*lines, "", *mix]


def whole_org_mix(record_cfg: Path, batch_cfg: Path, target_cfg: Path, total: int) -> list[str]:
    """The whole org through ``tap | target``, RECORD and BATCH, against the SDK-default
    pipeline in the same run (issue #26: 10x and 40x), wall seconds of each pipe."""
    target = [TARGET, "--config", str(target_cfg)]
    record, record_tap, record_target = median_run(
        lambda: run_pipe([TAP, "--config", str(record_cfg)], target)
    )
    batch, batch_tap, batch_target = median_run(
        lambda: run_pipe([TAP, "--config", str(batch_cfg)], target)
    )
    base, base_tap, base_target = run_pipe(
        [*BASELINE, "tap", "--config", str(record_cfg)],
        [*BASELINE, "target", "--config", str(target_cfg)],
    )
    lines = [
        "| whole org, `tap \\| target` | seconds | rows/s | peak RSS tap / target (MB) | vs SDK defaults |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, seconds, tap_mb, target_mb in (
        ("ours, RECORD mode", record, record_tap, record_target),
        ("ours, BATCH mode (Parquet files)", batch, batch_tap, batch_target),
        ("SDK defaults, RECORD mode", base, base_tap, base_target),
    ):
        ratio = "" if seconds is base else f"{base / seconds:.1f}x"
        lines.append(
            f"| {name} | {seconds:.1f} | {total / seconds:,.0f} | {tap_mb:.0f} / {target_mb:.0f} |"
            f" {ratio} |"
        )
    for line in lines:
        print("  " + line, flush=True)
    return lines


def mix_only(scale: int, workdir: Path) -> list[str]:
    """The whole-org mix alone (``--mix``), on an org of ``scale``."""
    workdir.mkdir(parents=True, exist_ok=True)
    with SandboxOrg(seed=1, scale=scale) as org:
        config = {**org.login_settings(), "lookback_window": 0, "max_concurrency": 1}
        record_cfg, batch_cfg, target_cfg = _mix_configs(workdir, config)
        recorded = workdir / "recorded.singer"
        _run_tap(record_cfg, recorded)
        total = sum(rows for _, rows in _split(recorded, workdir / "record").values())
        print(f"\n== whole-org mix (scale {scale:,}, {total:,} rows)", flush=True)
        return whole_org_mix(record_cfg, batch_cfg, target_cfg, total)


def _run_tap(config: Path, out: Path) -> dict[str, float]:
    with open(out, "wb") as sink:
        done = subprocess.run(
            [TAP, "--config", str(config)], stdout=sink, stderr=subprocess.PIPE, check=False
        )
    stderr = done.stderr.decode(errors="replace")
    if done.returncode:
        raise SystemExit(f"tap failed ({done.returncode}): {stderr[-2000:]}")
    return _tap_seconds(stderr)


def _target_us(config: Path, path: Path, rows: int, *, repeat: bool = True) -> float:
    """Target CPU µs per row on one stream's file, its start-up (SCHEMA alone) taken out.

    CPU time (user + system of the target process), not wall time: a shared machine's load
    changes the wall clock of a 1-second run by half, its CPU time hardly at all.
    """
    if not rows:
        return 0.0

    def measure(source: Path) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run_one([TARGET, "--config", str(config)], stdin=source)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return cpu, 0.0

    empty = _schema_only(path)
    if repeat and rows < AMPLIFIED_ROWS:
        path, rows = _amplified(path, rows)
    seconds = _median(lambda: measure(path)) if repeat else measure(path)[0]
    fixed = _median(lambda: measure(empty))
    return max(0.0, seconds - fixed) / rows * 1e6


def _amplified(path: Path, rows: int) -> tuple[Path, int]:
    """The stream's RECORD lines repeated to at least AMPLIFIED_ROWS: a few thousand rows cost
    less CPU than the noise of the target's start-up (~0.6 s), which is taken out."""
    lines = path.read_bytes().splitlines(keepends=True)
    schema, records = lines[0], lines[1:]
    size = max(1, sum(len(line) for line in records))
    # Rows up to AMPLIFIED_ROWS, bytes up to AMPLIFIED_BYTES (a wide object's 100,000 rows
    # would be gigabytes).
    times = max(1, min(-(-AMPLIFIED_ROWS // max(1, rows)), AMPLIFIED_BYTES // size))
    bigger = path.with_suffix(".amplified")
    with open(bigger, "wb") as out:
        out.write(schema)
        for _ in range(times):
            out.writelines(records)
    return bigger, rows * times


def _median(measure: Callable[[], tuple[float, float]]) -> float:
    return sorted(measure()[0] for _ in range(3))[1]


def _us(seconds: float | None, rows: int) -> str:
    return "" if seconds is None or not rows else f"{seconds / rows * 1e6:.1f}"


def target_only(scale: int, workdir: Path, streams: list[str]) -> list[str]:
    """The target RECORD column alone, for profiling the target between changes: the org is
    recorded once into ``workdir`` (reused while ``recorded.singer`` is there), then each stream's
    lines are measured as in ``per_object``; the tap's columns and the mix are skipped."""
    workdir.mkdir(parents=True, exist_ok=True)
    recorded = workdir / "recorded.singer"
    if not recorded.exists():
        with SandboxOrg(seed=1, scale=scale) as org:
            config = workdir / "record.json"
            settings = {**org.login_settings(), "lookback_window": 0, "max_concurrency": 1}
            config.write_text(json.dumps(settings))
            _run_tap(config, recorded)
    target_cfg = workdir / "target.json"
    target_cfg.write_text(json.dumps({"destination": str(workdir / "out"), "qa_mode": "off"}))
    lines = [
        "| stream | rows | fields | target RECORD µs/row | µs/field |",
        "|---|---:|---:|---:|---:|",
    ]
    for stream, (path, rows) in sorted(_split(recorded, workdir / "record").items()):
        if not rows or (streams and stream not in streams):
            continue
        schema = json.loads(path.read_bytes().split(b"\n", 1)[0])["schema"]
        fields = len(schema.get("properties") or {})
        us = _target_us(target_cfg, path, rows)
        line = f"| {stream} | {rows:,} | {fields} | {us:.1f} | {us / max(1, fields):.3f} |"
        print("  " + line, flush=True)
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=target_only.__doc__)
    parser.add_argument("--scale", type=int, default=5_000)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--streams", nargs="*", default=[], help="only these (default: all)")
    parser.add_argument(
        "--mix",
        action="store_true",
        help="only the whole-org mix, RECORD and BATCH vs SDK defaults",
    )
    args = parser.parse_args(argv)
    if args.mix:
        mix_only(args.scale, args.workdir)
    else:
        target_only(args.scale, args.workdir, args.streams)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
