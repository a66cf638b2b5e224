"""DuckDB connections for the target's quality check and the report.

DuckDB draws a progress bar on stdout for any query running over two seconds, whether or not stdout
is a terminal. The target's stdout carries its STATE messages (Meltano parses every line) and the
report's carries JSON or HTML, so every connection here has the bar switched off.
"""

from __future__ import annotations

from typing import Any


def connect(**settings: Any) -> Any:
    """A DuckDB connection with ``settings`` (memory_limit, threads, ...) and no progress bar."""
    import duckdb  # loaded only when a check or report runs

    db = duckdb.connect(config=settings)
    db.execute("SET enable_progress_bar = false")  # a per-connection setting, not a config one
    return db
