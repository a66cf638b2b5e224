"""The singer-sdk private names the tap relies on still exist, with the parameters it passes.

Every such name is listed in ``sdk_hooks.SDK_PRIVATE_NAMES``; an SDK upgrade that renames one or
changes its parameters fails here instead of silently bypassing the tap's override. And no other
module of the tap uses one: not an import from a private SDK module, not a private attribute of a
stream or the tap, not an override.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap

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


def _sdk_private_names() -> frozenset[str]:
    """Every private name of singer-sdk's ``Stream`` and ``Tap``: their classes' members and
    the attributes their methods set on ``self``."""
    names: set[str] = set()
    for owner in (Stream, Tap):
        for cls in owner.__mro__:
            if not cls.__module__.startswith("singer_sdk"):
                continue
            names.update(name for name in vars(cls) if _private(name))
            for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "self"
                    and _private(node.attr)
                ):
                    names.add(node.attr)
    return frozenset(names)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


SDK_PRIVATE = _sdk_private_names()


def _private_sdk_uses(source: str) -> list[str]:
    """Each use of a private singer-sdk name in ``source``: an import from a private module
    or of a private name, an attribute of ``Stream``/``Tap`` that is private (read, written or
    named in ``getattr``), or a method overriding one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "singer_sdk":
            parts = (node.module or "").split(".")
            names = [alias.name for alias in node.names]
            if any(_private(p) for p in parts) or any(_private(n) for n in names):
                found.append(f"line {node.lineno}: from {node.module} import {', '.join(names)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "singer_sdk" and any(_private(p) for p in parts):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr in SDK_PRIVATE:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if isinstance(member, ast.FunctionDef) and member.name in SDK_PRIVATE:
                    found.append(f"line {member.lineno}: def {member.name}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in SDK_PRIVATE
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_given_private_sdk_names_in_a_module_then_the_check_finds_each_one() -> None:
    source = textwrap.dedent(
        """
        import singer_sdk._singerlib
        from singer_sdk.helpers._batch import BatchConfig
        from singer_sdk.helpers import _catalog
        from singer_sdk.helpers.types import Context

        class Mine(Stream):
            def _sync_records(self, context): ...
            def _mine(self): return self._tap, getattr(self, "_metadata"), self._holding
        """
    )
    found = _private_sdk_uses(source)
    assert [line.split(": ", 1)[1] for line in found] == [
        "import singer_sdk._singerlib",
        "from singer_sdk.helpers._batch import BatchConfig",
        "from singer_sdk.helpers import _catalog",
        "def _sync_records",
        "self._tap",
        "getattr(self, '_metadata')",
    ], "public imports and the tap's own private names are not SDK names"


def test_given_the_package_then_only_sdk_hooks_uses_private_sdk_names() -> None:
    """Every module of the package, as it is on disk, but ``sdk_hooks``: no private singer-sdk
    import, attribute or override (``sdk_hooks`` re-exports and wraps what the tap needs)."""
    root = Path(tap_salesforce_temporal.__file__).parent
    modules = sorted(root.rglob("*.py"))
    assert root / "streams" / "sobject.py" in modules
    assert len(modules) > 40
    offenders = {
        str(path.relative_to(root)): uses
        for path in modules
        if path != Path(sdk_hooks.__file__) and (uses := _private_sdk_uses(path.read_text()))
    }
    assert offenders == {}


def test_given_the_pinned_sdk_then_each_private_attribute_used_is_still_set() -> None:
    """Private attributes are read, not called: the SDK must still assign each one."""
    for owner, names in (
        (Stream, sdk_hooks.SDK_PRIVATE_ATTRIBUTES),
        (Tap, sdk_hooks.SDK_PRIVATE_TAP_ATTRIBUTES),
    ):
        source = "".join(
            inspect.getsource(cls)
            for cls in owner.__mro__
            if cls.__module__.startswith("singer_sdk")
        )
        for name in names:
            assert f"self.{name} =" in source or f"self.{name}:" in source, (
                f"singer-sdk {owner.__name__} no longer sets {name}"
            )
