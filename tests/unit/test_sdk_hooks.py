"""The singer-sdk private names the tap relies on still exist, with the parameters it passes.

Every such name is listed in ``sdk_hooks.SDK_PRIVATE_NAMES``; an SDK upgrade that renames one or
changes its parameters fails here instead of silently bypassing the tap's override.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import tap_salesforce_temporal
from tap_salesforce_temporal import sdk_hooks
from tap_salesforce_temporal.sdk_hooks import SDK_PRIVATE_NAMES, StreamHooks, TapHooks
from tests.unit.sdk_names import assert_private_method


@pytest.mark.parametrize(
    ("base", "name", "parameters"),
    SDK_PRIVATE_NAMES,
    ids=[f"{base.__name__}.{name}" for base, name, _ in SDK_PRIVATE_NAMES],
)
def test_given_the_pinned_sdk_then_each_private_name_exists_with_its_parameters(
    base: type, name: str, parameters: tuple[str, ...]
) -> None:
    assert_private_method(base, name, parameters)


def test_given_the_hooks_then_every_override_is_marked_and_listed() -> None:
    listed = {(base, name) for base, name, _ in SDK_PRIVATE_NAMES}
    for hooks, base in ((StreamHooks, StreamHooks.__mro__[1]), (TapHooks, TapHooks.__mro__[1])):
        for name, member in vars(hooks).items():
            if name.startswith("_") and not name.startswith("__") and callable(member):
                assert getattr(member, "__override__", False), f"{name} lacks @override"
                assert (base, name) in listed, f"{name} is not in SDK_PRIVATE_NAMES"


def test_given_the_package_then_no_other_module_overrides_an_sdk_private_method() -> None:
    """Private SDK methods are overridden only in sdk_hooks (a def named like one elsewhere)."""
    private = {name for _, name, _ in SDK_PRIVATE_NAMES}
    root = Path(tap_salesforce_temporal.__file__).parent
    for path in root.rglob("*.py"):
        if path == Path(sdk_hooks.__file__) or "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                assert node.name not in private, f"{path.name} overrides {node.name}"


def test_given_the_pinned_sdk_then_each_private_attribute_used_is_still_set() -> None:
    """Private attributes are read, not called: the SDK must still assign each one."""
    from singer_sdk import Stream, Tap

    for owner, names in (
        (Stream, sdk_hooks.SDK_PRIVATE_ATTRIBUTES),
        (Tap, sdk_hooks.SDK_PRIVATE_TAP_ATTRIBUTES),
    ):
        source = inspect.getsource(owner)
        for name in names:
            assert f"self.{name} =" in source or f"self.{name}:" in source, (
                f"singer-sdk {owner.__name__} no longer sets {name}"
            )
