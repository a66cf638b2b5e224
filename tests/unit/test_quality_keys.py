"""Duplicate and null keys are counted over the whole run, across flushed batches."""

from __future__ import annotations

import pyarrow as pa
import pytest

from target_events.run.quality import QualityCheck


def test_given_duplicates_across_batches_then_the_figures_cover_the_whole_run() -> None:
    ids = [f"a{n:03d}" for n in range(50)]
    batches = [
        pa.table({"Id": ids[:20]}),
        pa.table({"Id": [*ids[15:30], None]}),  # 5 repeats of the first batch and a null key
        pa.table({"Id": ["a016", "a016", *ids[30:50]]}),  # a016 twice more
    ]
    check = QualityCheck("strict", 0.5)
    try:
        for table in batches:
            check.observe("Account", table, ("Id",))
        assert check.streams["Account"].key_files == 3, "one spilled key file per flush"
        entry = check.evaluate(None)["streams"]["Account"]
    finally:
        check.close()
    assert (entry["duplicate_keys"], entry["null_keys"]) == (7, 1)
    assert entry["duplicate_examples"] == [("a016", 4), ("a015", 2), ("a017", 2)]


def test_given_a_corrupt_key_file_then_the_check_fails_with_one_clear_error() -> None:
    check = QualityCheck("strict", 0.5)
    try:
        check.observe("Account", pa.table({"Id": ["a", "b"]}), ("Id",))
        [spilled] = list(check._workdir.rglob("*.parquet"))
        spilled.write_bytes(b"not parquet")
        with pytest.raises(RuntimeError, match=r"^DuckDB: "):
            check.evaluate(None)
    finally:
        check.close()
