"""Duplicate keys are counted the same whether the keys stayed in memory or were spilled to disk."""

from __future__ import annotations

import pyarrow as pa
import pytest

from target_events.quality import QualityCheck


def _batches() -> list[pa.Table]:
    ids = [f"a{n:03d}" for n in range(50)]
    return [
        pa.table({"Id": ids[:20]}),
        pa.table({"Id": [*ids[15:30], None]}),  # 5 repeats of the first batch and a null key
        pa.table({"Id": ["a016", "a016", *ids[30:50]]}),  # a016 three more times
    ]


@pytest.mark.parametrize("budget", [1_000_000, 25], ids=["in memory", "spilled to DuckDB"])
def test_given_duplicates_across_batches_then_both_paths_give_the_same_figures(budget: int) -> None:
    check = QualityCheck("strict", 0.5)
    check.keys_in_memory = budget
    try:
        for table in _batches():
            check.observe("Account", table, ("Id",))
        spilled = check.streams["Account"].key_files > 0
        entry = check.evaluate(None)["streams"]["Account"]
    finally:
        check.close()
    assert spilled is (budget == 25)
    assert (entry["duplicate_keys"], entry["null_keys"]) == (7, 1)
    assert entry["duplicate_examples"] == [("a016", 4), ("a015", 2), ("a017", 2)]
