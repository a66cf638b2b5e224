"""A run that ends at once (no input, garbage, STATE only) exits cleanly, also on a busy machine.

No background work may outlive ``main()``: a helper thread still importing a native library when
the interpreter shuts down aborted the process (SIGABRT, ``FATAL: exception not rethrown``) in
5-13% of fast exits. Many runs, a few at a time, beside a CPU hog make that window wide.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers import TARGET, write_json

RUNS_PER_INPUT = 12
AT_ONCE = 4
INPUTS = {  # stdin -> the exit code it must give
    b"": 0,
    b"this is not json\n": 1,
    b'{"type": "STATE", "value": {"bookmarks": {"a": {"n": 1}}}}\n': 0,
}


def test_given_fast_exits_beside_a_cpu_hog_then_every_exit_is_clean(tmp_path: Path) -> None:
    config = write_json(
        tmp_path / "config.json", {"destination": str(tmp_path / "out"), "qa_mode": "advisory"}
    )
    jobs = [stdin for stdin in INPUTS for _ in range(RUNS_PER_INPUT)]
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    outcomes: list[tuple[bytes, int, str]] = []
    try:
        for start in range(0, len(jobs), AT_ONCE):
            batch = jobs[start : start + AT_ONCE]
            procs = [
                subprocess.Popen(
                    [TARGET, "--config", str(config)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                for _ in batch
            ]
            for stdin, proc in zip(batch, procs, strict=True):
                _, err = proc.communicate(stdin, timeout=120)
                outcomes.append((stdin, proc.returncode, err.decode(errors="replace")))
    finally:
        hog.kill()
        hog.wait()
    for stdin, code, err in outcomes:
        assert code == INPUTS[stdin], (stdin, code, err[-500:])
        for marker in ("FATAL", "nanobind", "Traceback"):
            assert marker not in err, err[-500:]
