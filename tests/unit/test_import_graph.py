"""The packages' modules form layers: no import cycles, no private names taken from another
module, and the lower layers never reach up (issue #26).

A cycle makes two modules one unit that can only be read, tested and changed together, and
breaks at import time as soon as one side needs the other at module level; a private name
imported elsewhere is a contract nobody declared. Imports are read from the source
(``tests/import_graph.py``): inside functions and under ``TYPE_CHECKING`` too.
"""

from __future__ import annotations

import pytest

from tests.import_graph import cycles, imports, module_graph, modules, reaches

PACKAGES = ("tap_salesforce_temporal", "target_events", "synthetic_org", "bench")
TAP = "tap_salesforce_temporal"

# Cycles that exist and are owned elsewhere: issue #26's page-pipeline redesign (under way in
# these files) removes both; today each side imports the other's types under TYPE_CHECKING.
# Delete each entry with its cycle: the test fails while an entry names a cycle that is gone,
# so this list only shrinks.
KNOWN_CYCLES: set[frozenset[str]] = set()

# A module -> modules above it that it must never import, directly or through others.
NEVER_REACHES = {
    # Settings, login and the HTTP client sit under the queries: parsing a SOQL filter is the
    # query layer's job, checked by the tap at start-up (``query.filters.check_syntax``).
    **{
        f"{TAP}.{lower}": {f"{TAP}.query.filters", f"{TAP}.query.reader"}
        for lower in ("config.settings", "connection.auth", "connection.client")
    },
    # The run's shared state keeps answers; sending queries is for the layers above it.
    f"{TAP}.run.runtime": {f"{TAP}.query.rest", f"{TAP}.query.bulk", f"{TAP}.query.reader"},
    # The report reads what the writing side lands; only the commands reach the report.
    **{
        name: {m for m in modules("target_events") if m.startswith("target_events.report")}
        for name in modules("target_events")
        if not name.startswith("target_events.report")
        and name
        not in ("target_events.cli", "target_events.console", "target_events.commands.summary")
    },
}


# The target's stages (``target_events/__init__.py``): settings and storage sit under everything
# that reads, lands or reports; nothing but the command line reaches a command.
def _stage(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


_TARGET_MODULES = modules("target_events")
for _name in _TARGET_MODULES:
    _above: set[str] = set()
    if _stage(_name) in ("config", "store"):
        _above |= {
            m
            for m in _TARGET_MODULES
            if _stage(m) in ("ingest", "land", "lake", "run", "commands", "report", "target")
        }
    if _stage(_name) in ("ingest", "land", "lake", "run", "config", "store", "target"):
        _above |= {m for m in _TARGET_MODULES if _stage(m) == "commands"}
    if _above:
        NEVER_REACHES[_name] = NEVER_REACHES.get(_name, set()) | _above


# The tap's stages (``tap_salesforce_temporal/__init__.py``): what the user gives, the connection
# and what the org holds sit under the streams, the ways out and the command line.
_TAP_MODULES = modules(TAP)
for _name in _TAP_MODULES:
    if _stage(_name) in ("config", "connection", "discovery"):
        NEVER_REACHES[_name] = NEVER_REACHES.get(_name, set()) | {
            m
            for m in _TAP_MODULES
            if _stage(m) in ("streams", "output", "commands", "tap", "cli", "airbyte")
        }


def _shown(found: set[frozenset[str]]) -> str:
    return "; ".join(sorted(" <-> ".join(sorted(cycle)) for cycle in found))


@pytest.mark.parametrize("package", PACKAGES)
def test_the_modules_of_a_package_import_each_other_without_cycles(package: str) -> None:
    found = set(cycles(module_graph(package)))
    known = {cycle for cycle in KNOWN_CYCLES if min(cycle).split(".")[0] == package}
    assert not found - known, f"import cycles: {_shown(found - known)}"
    assert not known - found, f"gone, delete from KNOWN_CYCLES: {_shown(known - found)}"


def test_no_module_imports_a_private_name_of_another_module() -> None:
    offenders = [
        f"{stmt.importer}:{stmt.line} from {stmt.module} import {imported}"
        for package in PACKAGES
        for module, path in modules(package).items()
        for stmt in imports(module, path)
        if stmt.module.split(".")[0] in PACKAGES
        for imported in stmt.names
        if imported.startswith("_") and not imported.endswith("__")
    ]
    assert not offenders, "private names imported: " + "; ".join(offenders)


def test_the_lower_layers_never_reach_the_layers_above_them() -> None:
    graphs = {package: module_graph(package) for package in PACKAGES}
    missing = [m for m in NEVER_REACHES if m not in graphs[m.split(".")[0]]]
    assert not missing, f"rules about modules that do not exist (moved?): {missing}"
    offenders = {
        lower: sorted(reaches(graphs[lower.split(".")[0]], lower) & above)
        for lower, above in NEVER_REACHES.items()
    }
    reached = [f"{lower} -> {', '.join(found)}" for lower, found in offenders.items() if found]
    assert not reached, "lower layers reaching up: " + "; ".join(reached)
