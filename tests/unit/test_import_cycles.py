"""The page path's modules import each other without circles (issue #26).

The object streams' page pipeline, the emitters, what observes the pages (micro_decision_events)
and the SDK hooks each know the modules below them only: the pipeline defines the observer
interface, the events implement it, and neither imports the other. Imports under
``TYPE_CHECKING`` count too: a circle there still ties both modules together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tap_salesforce_temporal

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


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in ROOT.rglob("*.py")
    }


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules ``path`` imports (``TYPE_CHECKING`` blocks included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    # A package's __init__ runs before its children: that edge is no circle.
    return {i for i in found if i in modules and i != name and not name.startswith(i + ".")}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _on_page_path(module: str) -> bool:
    local = module.removeprefix(PACKAGE + ".")
    return any(local == p or (p.endswith(".") and local.startswith(p)) for p in PAGE_PATH)


def test_given_a_circle_then_the_check_finds_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]


def test_given_the_tap_package_then_no_circle_runs_through_the_page_path() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert f"{PACKAGE}.streams.sobject" in graph[f"{PACKAGE}.streams.shared_events"]
    circles = [c for c in _circles(graph) if any(_on_page_path(m) for m in c)]
    assert circles == []
