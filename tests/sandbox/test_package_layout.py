"""The synthetic org is its own package: it imports nothing from the tap or the target, and no
module grows into a god file. (That its modules import each other without cycles is checked with
the other packages in ``tests/unit/test_import_graph.py``.)"""

from __future__ import annotations

from tests.import_graph import imports, modules

MAX_LINES = 420
OTHERS = ("tap_salesforce_temporal", "target_events", "tests")


def test_the_synthetic_org_imports_nothing_from_the_tap_or_the_target() -> None:
    offenders = {
        name: sorted(i.module for i in imports(name, path) if i.module.split(".")[0] in OTHERS)
        for name, path in modules("synthetic_org").items()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_of_the_synthetic_org_is_a_god_file() -> None:
    sizes = {
        name: len(path.read_text().splitlines()) for name, path in modules("synthetic_org").items()
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
