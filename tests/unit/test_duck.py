"""DuckDB draws a progress bar on stdout for queries over 2 s, tty or not: the target's stdout is its
STATE channel and the report's is its JSON. Every connection the target opens has it off."""

from __future__ import annotations

from pathlib import Path

from target_events.run.duck import connect


def test_connections_have_no_progress_bar_and_keep_their_settings() -> None:
    with connect(memory_limit="64MB", threads=1) as db:
        bar, threads = db.execute(
            "SELECT current_setting('enable_progress_bar'), current_setting('threads')"
        ).fetchone()
    assert (bar, threads) == (False, 1)


def test_no_module_of_the_target_connects_to_duckdb_directly() -> None:
    package = Path(__file__).resolve().parents[2] / "target_events"
    direct = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "duckdb.connect(" in path.read_text() and path.name != "duck.py"
    ]
    assert direct == []
