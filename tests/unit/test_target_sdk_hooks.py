"""The singer-sdk private names the target relies on live in one module and still exist.

``target_events/sdk_hooks.py`` lists each one (methods with their parameters, private modules it
imports, private attributes it reads). An SDK upgrade that renames one fails here instead of
silently bypassing an override; a private name used anywhere else in the target fails here too.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest
from singer_sdk import Target
from singer_sdk.io_base import GenericSingerReader
from singer_sdk.sinks import BatchSink

import target_events
from target_events import sdk_hooks
from target_events.sdk_hooks import (
    SDK_PRIVATE_IMPORTS,
    SDK_PRIVATE_NAMES,
    SDK_PRIVATE_TARGET_ATTRIBUTES,
    SinkHooks,
    TargetHooks,
)
from tests.unit.sdk_names import assert_private_method

PACKAGE = Path(target_events.__file__).parent
HOOKS = Path(sdk_hooks.__file__)
# The SDK classes the target's classes derive from (the reader's too).
SDK_BASES = (Target, BatchSink, GenericSingerReader)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _sdk_private_names() -> set[str]:
    """Every private name the SDK's base classes define or assign (``self._x = ...``)."""
    names: set[str] = set()
    for base in SDK_BASES:
        for owner in base.__mro__:
            if not owner.__module__.startswith("singer_sdk"):
                continue
            names.update(name for name in vars(owner) if _is_private(name))
            names.update(re.findall(r"self\.(_[A-Za-z]\w*)\s*[:=]", inspect.getsource(owner)))
    return names - {"_abc_impl"}  # set by abc, not the SDK


def _other_modules() -> list[tuple[Path, ast.AST]]:
    return [
        (path, ast.parse(path.read_text()))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != HOOKS
    ]


@pytest.mark.parametrize(
    ("base", "name", "parameters"),
    SDK_PRIVATE_NAMES,
    ids=[f"{base.__name__}.{name}" for base, name, _ in SDK_PRIVATE_NAMES],
)
def test_given_the_pinned_sdk_then_each_private_name_exists_with_its_parameters(
    base: type, name: str, parameters: tuple[str, ...]
) -> None:
    assert_private_method(base, name, parameters)


@pytest.mark.parametrize(("module", "name"), SDK_PRIVATE_IMPORTS)
def test_given_the_pinned_sdk_then_each_private_import_still_resolves(
    module: str, name: str
) -> None:
    assert hasattr(importlib.import_module(module), name), f"{module} has no {name}"


def test_given_the_hooks_then_every_override_is_marked_and_listed() -> None:
    listed = {(base, name) for base, name, _ in SDK_PRIVATE_NAMES}
    for hooks in (TargetHooks, SinkHooks):
        base = hooks.__mro__[1]
        for name, member in vars(hooks).items():
            if _is_private(name) and callable(member):
                assert getattr(member, "__override__", False), f"{name} lacks @override"
                assert (base, name) in listed, f"{base.__name__}.{name} is not listed"


def test_given_the_hooks_module_then_every_private_name_it_touches_is_listed() -> None:
    """The tables are complete: a private attribute or import not listed fails here."""
    listed = {name for _, name, _ in SDK_PRIVATE_NAMES} | set(SDK_PRIVATE_TARGET_ATTRIBUTES)
    imports = set(SDK_PRIVATE_IMPORTS)
    for node in ast.walk(ast.parse(HOOKS.read_text())):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            assert node.attr in listed, f"sdk_hooks uses {node.attr}, which is not listed"
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            private = module.startswith("singer_sdk") and "._" in module
            for alias in node.names if private else ():
                assert (module, alias.name) in imports, f"{module} is not listed"


def test_given_the_package_then_no_other_module_imports_a_private_sdk_name() -> None:
    for path, tree in _other_modules():
        for node in ast.walk(tree):
            dotted: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
                dotted = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                dotted = [a.name for a in node.names if a.name.startswith("singer_sdk")]
            for name in dotted:
                assert not any(_is_private(part) for part in name.split(".")), (
                    f"{path.name} imports {name}"
                )


def test_given_the_package_then_no_other_module_overrides_a_listed_private_method() -> None:
    private = {name for _, name, _ in SDK_PRIVATE_NAMES}
    for path, tree in _other_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert node.name not in private, f"{path.name} defines {node.name}"


def test_given_the_package_then_no_other_module_touches_any_private_sdk_name() -> None:
    """Unlisted ones too: a method the SDK calls, or an attribute it sets, named elsewhere
    (an override, a call, a read, or a private name of ours shadowing the SDK's)."""
    sdk = _sdk_private_names()
    for path, tree in _other_modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.FunctionDef):
                name = node.name
            else:
                continue
            assert name not in sdk, f"{path.name}:{node.lineno} uses the SDK's {name}"


def test_given_the_pinned_sdk_then_each_private_attribute_read_is_still_set() -> None:
    """Private attributes are read, not called: the SDK must still assign each one."""
    sources = "\n".join(
        inspect.getsource(owner)
        for owner in Target.__mro__
        if owner.__module__.startswith("singer_sdk")
    )
    for name in SDK_PRIVATE_TARGET_ATTRIBUTES:
        assert f"self.{name} =" in sources or f"self.{name}:" in sources, (
            f"singer-sdk's Target no longer sets {name}"
        )
