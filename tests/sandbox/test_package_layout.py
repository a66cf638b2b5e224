"""The synthetic org is its own package: it imports nothing from the tap or the target, its modules
import each other without circles, and no module grows into a god file."""

from __future__ import annotations

import ast
from pathlib import Path

import synthetic_org

PACKAGE = Path(synthetic_org.__file__).parent
MAX_LINES = 420


def _modules() -> dict[str, Path]:
    return {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in PACKAGE.rglob("*.py")
    }


def _runtime_imports(name: str, path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports at run time (``TYPE_CHECKING`` blocks skipped)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
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
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list) and children and isinstance(children[0], ast.stmt):
                    visit(children)
                elif field == "handlers" and children:
                    for handler in children:
                        visit(handler.body)

    visit(tree.body)
    return found


def test_the_synthetic_org_imports_nothing_from_the_tap_or_the_target() -> None:
    offenders = {
        name: sorted(i for i in _runtime_imports(name, path) if i.split(".")[0] in ("tap_salesforce_temporal", "target_events", "tests"))
        for name, path in _modules().items()
    }  # fmt: skip
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_synthetic_org_modules_import_each_other_without_circles() -> None:
    modules = _modules()
    graph = {
        name: {i for i in _runtime_imports(name, path) if i in modules and i != name}
        for name, path in modules.items()
    }
    # A package's __init__ may re-export its children; importing a child runs its parent first,
    # so that edge is not a circle of the kind that breaks imports.
    for name in graph:
        graph[name] = {dep for dep in graph[name] if not name.startswith(dep + ".")}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*trail[trail.index(dep) :], dep])
            elif dep not in state:
                walk(dep, [*trail, dep])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert cycles == []


def test_no_module_of_the_synthetic_org_is_a_god_file() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
