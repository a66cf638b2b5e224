"""Who imports whom inside this repository's packages, read from the source (nothing imported).

Shared by the layout tests: one walker, so "imports" means the same thing in each of them.
Every import statement counts, wherever it stands: module level, inside a function (a deferred
import still ties the two modules together) and under ``if TYPE_CHECKING:`` (two modules that
need each other's types are still one unit, whatever order the interpreter loads them in).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Import:
    """One ``import X`` or ``from X import a, b`` of ``importer``, with X made absolute."""

    importer: str
    module: str
    names: tuple[str, ...]
    line: int

    def targets(self) -> set[str]:
        """Every dotted name this statement may load as a module: X, and X.a for ``from X import a``."""
        return {self.module, *(f"{self.module}.{name}" for name in self.names)}


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a folder at the repo root)."""
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports(name: str, path: Path) -> list[Import]:
    """Every import statement in module ``name`` (file ``path``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, (), node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{parent}.{module}" if module else parent
            names = tuple(alias.name for alias in node.names)
            found.append(Import(name, module, names, node.lineno))
    return found


def module_graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports.

    An edge to one of the module's own parent packages is left out: importing a child runs its
    parent's ``__init__`` first whatever the child says, so it ties nothing new.
    """
    found = modules(package)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        targets = set().union(*(i.targets() for i in imports(name, path)))
        graph[name] = {
            target
            for target in targets
            if target in found and target != name and not name.startswith(target + ".")
        }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph[todo.pop()] - seen:
            seen.add(dep)
            todo.append(dep)
    return seen
