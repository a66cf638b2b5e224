"""Runs under PyAirbyte's own venv (.venv-airbyte: its pins conflict with this project's), driven
by tests/integration/test_airbyte_source.py: reads the local source executable into a DuckDB cache
and prints what it saw as JSON.

stdin: {"executable", "config", "cache_dir", "streams"}; stdout (last line):
{"processed": N, "cached": {stream: rows in the cache}}.
"""

import json
import sys

import airbyte as ab
from airbyte.caches import DuckDBCache


def main() -> None:
    job = json.load(sys.stdin)
    source = ab.get_source(
        "source-salesforce-temporal",
        config=job["config"],
        local_executable=job["executable"],
        streams=job["streams"],
    )
    cache = DuckDBCache(db_path=f"{job['cache_dir']}/cache.duckdb", schema_name="salesforce")
    result = source.read(cache=cache)
    cached = {name: len(cache[name]) for name in job["streams"]}
    print(json.dumps({"processed": result.processed_records, "cached": cached}))


if __name__ == "__main__":
    main()
