"""What every bench shares: the commands it runs, the stream it reads, and how a run is timed and
its memory measured (each measured program is its own process, its peak RSS read from /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
TAP = str(BIN / "tap-salesforce-temporal")
TARGET = str(BIN / "target-events")
# The same tap and target with the SDK's defaults (bench/baselines.py).
BASELINE = [sys.executable, "-m", "bench.baselines"]
STREAM = "OpportunityFieldHistory"
ROWS_PER_SCALE = 9.4  # OpportunityFieldHistory rows per opportunity in the synthetic org
QUICK_SECONDS = 10.0  # measurements shorter than this are the median of three runs


def _vm_hwm_kb(pid: int) -> int | None:
    """Peak RSS so far of a live process (VmHWM), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    except (FileNotFoundError, ProcessLookupError, StopIteration, ValueError):
        return None


def wait_peak_mb(process: subprocess.Popen) -> float:
    """Wait for a child and return its peak RSS in MB.

    Read from /proc/PID/status (VmHWM) while it runs: ``wait4``'s ru_maxrss would include the
    bench process's own memory, which Linux carries into a forked child across exec.
    """
    peak_kb = 0
    while process.poll() is None:
        peak_kb = max(peak_kb, _vm_hwm_kb(process.pid) or 0)
        time.sleep(0.02)
    return peak_kb / 1024


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/task/{current}/children") as handle:
                children = [int(c) for c in handle.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            children = []
        found += children
        todo += children
    return found


def wait_tree(process: subprocess.Popen) -> dict[str, float]:
    """Wait for a process and return the peak RSS (MB) of each program in its tree, by name.

    ``meltano run`` starts the tap and the target as its children; their VmHWM is what matters.
    """
    peaks: dict[str, float] = {}
    while process.poll() is None:
        for pid in [process.pid, *_descendants(process.pid)]:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    argv = handle.read().split(b"\0")
            except (FileNotFoundError, ProcessLookupError):
                continue
            hwm = _vm_hwm_kb(pid)
            if hwm is None:
                continue
            words = [Path(a.decode(errors="replace")).name for a in argv if a]
            name = next(
                (w for w in words if w.startswith(("tap-", "target-", "meltano"))),
                words[0] if words else "?",
            )
            peaks[name] = max(peaks.get(name, 0.0), hwm / 1024)
        time.sleep(0.05)
    return peaks


def run_one(
    cmd: list[str],
    *,
    stdin: Path | None = None,
    stdout: Path | None = None,
    env: dict | None = None,
) -> tuple[float, float]:
    with open(stdin or os.devnull, "rb") as source, open(stdout or os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(
            cmd, stdin=source, stdout=sink, stderr=subprocess.DEVNULL, env=env
        )
        peak = wait_peak_mb(process)
        elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"benchmark command failed ({process.returncode}): {' '.join(cmd)}")
    return elapsed, peak


def run_pipe(
    tap_cmd: list[str], target_cmd: list[str], env: dict | None = None
) -> tuple[float, float, float]:
    started = time.perf_counter()
    tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    target = subprocess.Popen(
        target_cmd, stdin=tap.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    assert tap.stdout is not None
    tap.stdout.close()
    tap_peak = wait_peak_mb(tap)
    target_peak = wait_peak_mb(target)
    elapsed = time.perf_counter() - started
    if tap.returncode or target.returncode:
        raise SystemExit(f"pipeline failed: tap {tap.returncode}, target {target.returncode}")
    return elapsed, tap_peak, target_peak


def median_run(measure: Callable[[], tuple[float, ...]]) -> tuple[float, ...]:
    """One measurement, or the median of three when it takes under ``QUICK_SECONDS``.

    A 2-second pipeline varies by +-15% from run to run on a shared 2-core VM, a 70-second
    baseline by far less: the short ones are repeated so one slow run does not set a ratio.
    Returns the median run's seconds and, per process, the highest peak RSS of the runs.
    """
    first = measure()
    if first[0] >= QUICK_SECONDS:
        return first
    runs = [first, measure(), measure()]
    seconds = sorted(run[0] for run in runs)[1]
    return (seconds, *(max(peaks) for peaks in zip(*(run[1:] for run in runs), strict=True)))
