"""What the guard tests of both SDK seams (tap and target ``sdk_hooks``) check of one name."""

from __future__ import annotations

import inspect


def assert_private_method(base: type, name: str, parameters: tuple[str, ...]) -> None:
    """``base.name`` still exists on the pinned singer-sdk and takes ``parameters`` after self."""
    method = getattr(base, name, None)
    assert callable(method), f"singer-sdk {base.__name__} has no {name}"
    actual = [p for p in inspect.signature(method).parameters if p != "self"]
    assert actual == list(parameters), f"{base.__name__}.{name} now takes {actual}"
