"""Ctrl-C or an orchestrator's SIGTERM mid-run: the target stops with one line and 128 + the
signal (the SDK's own handler exits 0, which an orchestrator takes for a finished load), keeps
every file it made durable and leaves no partial file behind."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import TARGET, singer_lines, write_json

SCHEMA = {
    "type": "SCHEMA",
    "stream": "things",
    "schema": {"properties": {"Id": {"type": "string"}, "n": {"type": "integer"}}},
    "key_properties": ["Id"],
}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_given_a_signal_mid_input_then_the_exit_says_so_and_durable_files_stay(
    tmp_path: Path, signum: signal.Signals
) -> None:
    out = tmp_path / "out"
    config = write_json(tmp_path / "config.json", {"destination": str(out), "max_batch_rows": 5})
    target = subprocess.Popen(
        [TARGET, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert target.stdin is not None
        assert target.stdout is not None

        def records(prefix: str, count: int) -> list[dict]:
            return [
                {"type": "RECORD", "stream": "things", "record": {"Id": f"{prefix}{i}", "n": i}}
                for i in range(count)
            ]

        # Two full batches: the STATE between them goes out once the first file is durable.
        lines = singer_lines(
            SCHEMA, *records("a", 5), {"type": "STATE", "value": {"at": 5}}, *records("b", 5)
        )
        target.stdin.write(lines.encode())
        target.stdin.flush()
        assert json.loads(target.stdout.readline()) == {"at": 5}
        target.stdin.write(singer_lines(*records("c", 3)).encode())  # buffered, never flushed
        target.stdin.flush()
        target.send_signal(signum)
        rest, stderr = target.communicate(timeout=60)
    finally:
        if target.poll() is None:
            target.kill()
    assert target.returncode == 128 + signum, stderr.decode()[-2000:]
    said = [line for line in stderr.decode().splitlines() if line.startswith("target-events")]
    assert said == [
        f"target-events: interrupted by {signum.name}: records after the last STATE passed "
        "on were not written; the next run receives them again"
    ]
    assert not rest.strip(), "no STATE for records never written"
    files = sorted((out / "things").glob("*.parquet"))
    landed = {r["Id"] for f in files for r in pq.read_table(f).to_pylist()}
    assert {f"a{i}" for i in range(5)} <= landed
    assert not {f"c{i}" for i in range(3)} & landed
    visible = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert all(p.suffix in (".parquet", ".json") for p in visible), visible
