"""The page path's modules import each other without circles (issue #26).

The object streams' page pipeline, the emitters, what observes the pages (micro_decision_events)
and the SDK hooks each know the modules below them only: the pipeline defines the observer
interface, the events implement it, and neither imports the other. Imports under
``TYPE_CHECKING`` count too: a circle there still ties both modules together.
"""

from __future__ import annotations

from pathlib import Path

import tap_salesforce_temporal
from tests.import_graph import circles, import_graph

ROOT = Path(tap_salesforce_temporal.__file__).parent
PACKAGE = ROOT.name
# The modules of the page path; a circle through any of them fails.
PAGE_PATH = (
    "streams.",
    "query.page",
    "query.reader",
    "query.values",
    "sdk_hooks",
    "record_batches",
    "batches",
    "writer",
    "record_lines",
)


def _on_page_path(module: str) -> bool:
    local = module.removeprefix(PACKAGE + ".")
    return any(local == p or (p.endswith(".") and local.startswith(p)) for p in PAGE_PATH)


def test_given_a_circle_then_the_check_finds_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]


def test_given_the_tap_package_then_no_circle_runs_through_the_page_path() -> None:
    graph = import_graph(ROOT, type_checking=True)
    assert f"{PACKAGE}.streams.sobject" in graph[f"{PACKAGE}.streams.shared_events"]
    assert [c for c in circles(graph) if any(_on_page_path(m) for m in c)] == []
