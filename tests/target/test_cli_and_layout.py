"""``target-events`` is one command with its tools as subcommands; the package keeps its layout.

The layout rules are the ones the team agreed (README "Architecture"): the reader talks to a
typed router, sinks know the run only through its ledger, and no module grows into a god file.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import target_events
from tests.helpers import TARGET, run_target, singer_lines

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


def _relative_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_sinks_never_import_the_target_and_no_module_is_a_god_file() -> None:
    assert "target" not in _relative_imports(PACKAGE / "sinks.py")
    assert "target" not in _relative_imports(PACKAGE / "router.py")
    assert "sinks" in _relative_imports(PACKAGE / "target.py")
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
