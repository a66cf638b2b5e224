"""A package's modules and the imports between them, read from source, for the layout tests."""

from __future__ import annotations

import ast
from pathlib import Path


def package_modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at ``package_dir``."""
    return {
        ".".join(path.relative_to(package_dir.parent).with_suffix("").parts).removesuffix(
            ".__init__"
        ): path
        for path in package_dir.rglob("*.py")
    }


def imported_names(name: str, path: Path, *, type_checking: bool) -> set[str]:
    """Absolute names ``path`` (module ``name``) imports: each module and each ``module.name``.
    ``type_checking``: with the imports under ``if TYPE_CHECKING:`` (else run time only)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if (
                not type_checking
                and isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test)
            ):
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


def import_graph(package_dir: Path, *, type_checking: bool) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. A package's ``__init__`` may re-export its
    children; importing a child runs its parent first, so that edge is left out (it is not a
    circle of the kind that ties modules together)."""
    modules = package_modules(package_dir)
    return {
        name: {
            i
            for i in imported_names(name, path, type_checking=type_checking)
            if i in modules and i != name and not name.startswith(i + ".")
        }
        for name, path in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other in a circle (strongly connected
    components of more than one module, Tarjan), each sorted."""
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
