"""The synthetic org is its own package: it imports nothing from the tap or the target, its modules
import each other without circles, and no module grows into a god file."""

from __future__ import annotations

from pathlib import Path

import synthetic_org
from tests.import_graph import circles, import_graph, imported_names, package_modules

PACKAGE = Path(synthetic_org.__file__).parent
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    return package_modules(PACKAGE)


def _runtime_imports(name: str, path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports at run time (``TYPE_CHECKING`` blocks skipped)."""
    return imported_names(name, path, type_checking=False)


def test_the_synthetic_org_imports_nothing_from_the_tap_or_the_target() -> None:
    offenders = {
        name: sorted(i for i in _runtime_imports(name, path) if i.split(".")[0] in ("tap_salesforce_temporal", "target_events", "tests"))
        for name, path in _modules().items()
    }  # fmt: skip
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_synthetic_org_modules_import_each_other_without_circles() -> None:
    assert circles(import_graph(PACKAGE, type_checking=False)) == []


def test_no_module_of_the_synthetic_org_is_a_god_file() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
