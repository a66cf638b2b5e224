"""``target-events`` is one command with its tools as subcommands; the package keeps its layout.

The layout rules are the ones the team agreed (README "Architecture"): the reader talks to a
typed router, sinks know the run only through its ledger, and no module grows into a god file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import target_events
from tests.helpers import TARGET, run_target, singer_lines
from tests.import_graph import module_graph, reaches

PACKAGE = Path(target_events.__file__).parent
MAX_LINES = 400


def test_given_help_then_the_subcommands_are_listed_with_the_targets_options() -> None:
    done = subprocess.run([TARGET, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for word in ("report", "summary", "compact", "--config", "--about", "--input"):
        assert word in done.stdout, word


def test_given_a_landed_run_then_summary_and_report_run_as_subcommands(tmp_path: Path) -> None:
    out = tmp_path / "out"
    schema = {"properties": {"Id": {"type": "string"}, "n": {"type": ["integer", "null"]}}}
    lines = singer_lines(
        {"type": "SCHEMA", "stream": "Thing", "schema": schema, "key_properties": ["Id"]},
        *(
            {"type": "RECORD", "stream": "Thing", "record": {"Id": f"a{i}", "n": i}}
            for i in range(7)
        ),
        {"type": "STATE", "value": {"done": True}},
    )
    assert run_target(tmp_path, {"destination": str(out)}, lines).returncode == 0
    summary = subprocess.run(
        [TARGET, "summary", str(out)], capture_output=True, text=True, check=False
    )
    assert summary.returncode == 0, summary.stderr
    thing = next(line for line in summary.stdout.splitlines() if line.startswith("Thing"))
    assert thing.split()[1] == "7"
    report_help = subprocess.run(
        [TARGET, "report", "--help"], capture_output=True, text=True, check=False
    )
    assert report_help.returncode == 0
    assert "target-events report" in report_help.stdout


def test_sinks_never_import_the_target_and_no_module_is_a_god_file() -> None:
    graph = module_graph("target_events")
    for lower in ("target_events.ingest.sinks", "target_events.ingest.router"):
        assert "target_events.target" not in reaches(graph, lower), lower
    assert "target_events.ingest.sinks" in graph["target_events.target"]
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
