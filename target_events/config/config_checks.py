"""Pure checks of raw setting values: one-line errors that name the setting, never a secret.

Two sources of setting errors reach a user: the SDK's JSON Schema validation of the config (its
messages print the offending value, a secret included) and our own parsing in ``Settings``. Both
are worded here, from the setting's name and the value's *type*; a value is shown only when the
setting is not secret, and then as a short one-line ``repr`` (a hostile value with newlines or
escape codes cannot forge a log line).
"""

from __future__ import annotations

import decimal
import ipaddress
import math
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk.exceptions import ConfigValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LOOPBACK_NAMES = ("localhost",)
_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}


def fail(setting: str, problem: str) -> ConfigValidationError:
    message = f"setting '{setting}': {problem}"
    return ConfigValidationError(message, errors=[message])


def secret_names(schema: Mapping[str, Any]) -> frozenset[str]:
    """Settings the schema marks secret (``secret: true`` or ``writeOnly: true``)."""
    return frozenset(
        name
        for name, spec in schema.get("properties", {}).items()
        if spec.get("secret") or spec.get("writeOnly")
    )


def json_type(value: object) -> str:
    """The JSON name of a value's type, for messages that must not show the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, decimal.Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def show(value: object, limit: int = 60) -> str:
    """A short one-line rendering of a non-secret value."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def schema_error(config: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """The first JSON Schema violation of ``config``, worded without any secret value."""
    from singer_sdk.plugin_base import JSONSchemaValidator

    errors = sorted(
        JSONSchemaValidator(schema).iter_errors(dict(config)),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    if not errors:
        return None
    error = errors[0]
    path = [str(p) for p in error.absolute_path]
    if not path:
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in config]
            return f"setting '{missing[0] if missing else '?'}': is required"
        return "the config must be a JSON object"
    setting = path[0]
    where = "" if len(path) == 1 else f" (at {'.'.join(show(p, 40) for p in path[1:])})"
    secret = setting in secret_names(schema)
    if error.validator == "type":
        kinds = error.validator_value
        kinds = [kinds] if isinstance(kinds, str) else [k for k in kinds if k != "null"]
        expected = " or ".join(_JSON_TYPES.get(k, k) for k in kinds)
        return f"setting '{setting}'{where}: expects {expected}, got {json_type(error.instance)}"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        shown = "the value" if secret else show(error.instance)
        return f"setting '{setting}'{where}: {shown} is not one of {allowed}"
    return f"setting '{setting}'{where}: {json_type(error.instance)} value fails the schema's '{error.validator}' rule"


def integer(setting: str, value: object, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)):
        raise fail(setting, f"expects an integer, got {json_type(value)}")
    if isinstance(value, decimal.Decimal) and (not value.is_finite() or value != int(value)):
        raise fail(setting, "expects an integer, got a fraction")
    number = int(value)
    if not minimum <= number <= maximum:
        raise fail(setting, f"must be between {minimum} and {maximum}, got {show(number, 30)}")
    return number


def number(setting: str, value: object, *, positive: bool, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        raise fail(setting, f"expects a number, got {json_type(value)}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    low_ok = result > 0 if positive else result >= 0
    if not math.isfinite(result) or not low_ok or result > maximum:
        bound = "more than 0" if positive else "0 or more"
        raise fail(setting, f"must be a finite number {bound} and at most {maximum:g}")
    return result


def text(setting: str, value: object, *, secret: bool = False) -> str:
    """A string without control characters (a newline in a header or a path is never meant)."""
    if not isinstance(value, str):
        raise fail(setting, f"expects a string, got {json_type(value)}")
    if _CONTROL.search(value):
        shown = "" if secret else f" {show(value)}"
        raise fail(setting, f"contains a control character (newline, tab, escape...){shown}")
    return value


def one_of(setting: str, value: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise fail(setting, f"{show(value)} is not one of {', '.join(allowed)}")
    return value


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _clean_host(host: str) -> bool:
    if re.fullmatch(r"[a-z0-9](?:[a-z0-9.\-]*[a-z0-9])?", host):
        return True
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def clean_endpoint_url(setting: str, url: str) -> str:
    """An http(s) URL that every HTTP library parses the same way, and plain http only to loopback.

    ``http://192.0.2.2:18081\\@127.0.0.1``: ``urlsplit`` sees host 127.0.0.1 (after the ``@``)
    while urllib3 stops the authority at the backslash and connects to 192.0.2.2. Rather than
    guess which parser wins, anything that could parse two ways is refused: backslashes,
    userinfo (``@``), whitespace and control characters, percent-escapes in the host, a path,
    query or fragment. The host that remains is the one every library connects to.
    """
    problem = None
    if "\\" in url:
        problem = "contains a backslash"
    elif _CONTROL.search(url) or any(c.isspace() for c in url):
        problem = "contains whitespace or a control character"
    else:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            problem = "is not an http(s) URL"
        elif "@" in parts.netloc:
            problem = "must not contain user information (user:password@)"
        elif not parts.hostname or not _clean_host(parts.hostname):
            problem = "has no clean host name"
        elif parts.query or parts.fragment or parts.path not in ("", "/"):
            problem = "must be scheme://host[:port] only (no path, query or fragment)"
        else:
            try:
                _ = parts.port
            except ValueError:
                problem = "has an invalid port"
            else:
                if parts.scheme != "https" and not is_loopback_host(parts.hostname):
                    problem = "plain http is only allowed for loopback hosts; use https"
    if problem:
        # Only the shape is named: a URL may carry credentials (user:password@).
        raise fail(setting, problem)
    return url


# Built-in SDK settings this target does not honour, with what to use instead. Not advertised by
# --about; set anyway, they stop the run rather than be ignored (a second run with
# load_method: overwrite would silently append). Files are immutable: see README "Load method".
UNHONOURED_BUILTINS = {
    "load_method": "target-events only appends new immutable files (append-only); "
    "deduplicate at read time on the stream's key (event_id for micro_decision_events)",
    "batch_size_rows": "use max_batch_rows",
}


def unhonoured(config: Mapping[str, Any]) -> str | None:
    """The first unhonoured built-in the config sets, worded; None when there is none."""
    for name, instead in UNHONOURED_BUILTINS.items():
        value = config.get(name)
        if value is None or (name == "load_method" and value == "append-only"):
            continue
        shown = f"'{value}'" if isinstance(value, str) and len(value) < 40 else "a value"
        return f"setting '{name}': {shown} is not supported: {instead}"
    return None


# Far deeper than any target config (stream maps included); a file nested 50,000 deep would
# end the SDK's parser in a RecursionError, and one nested 900 deep a recursive walk later.
MAX_CONFIG_DEPTH = 100


def config_file_error(path: str) -> str | None:
    """Why the --config file at ``path`` cannot be read as strict JSON (one line), or None.

    Read before the SDK reads it (simplejson), whose errors are tracebacks for ``NaN``, deep
    nesting and invalid UTF-8. The content is never quoted: it may hold secrets.
    """
    import json
    import os

    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        return None  # a FIFO (``--config <(...)``) can be read once only: left to the SDK
    label = f"the config file {path}"
    try:
        text = open(path, encoding="utf-8").read()  # noqa: SIM115
    except FileNotFoundError:
        return f"{label} does not exist"
    except UnicodeDecodeError as error:
        return f"{label} is not UTF-8 text (byte {error.start + 1})"
    except OSError as error:
        return f"{label} cannot be read ({error.strerror or type(error).__name__})"
    except MemoryError:
        return f"{label} is too large to read into memory"

    def refuse(name: str) -> object:
        raise ValueError(f"{name} is not a JSON value")

    try:
        value = json.loads(text, parse_constant=refuse, parse_float=decimal.Decimal)
    except json.JSONDecodeError as error:
        return f"{label} is not valid JSON: {error.msg} (line {error.lineno} column {error.colno})"
    except RecursionError:
        return f"{label} is not valid JSON: nested deeper than {MAX_CONFIG_DEPTH} levels"
    except ValueError as error:  # NaN / Infinity, an integer of over 4,300 digits
        first = (str(error).splitlines() or ["unreadable"])[0][:120]
        return f"{label} is not valid JSON: {first}"
    except MemoryError:
        return f"{label} is too large to read into memory"
    if json_depth(value) > MAX_CONFIG_DEPTH:
        return f"{label} is not valid JSON: nested deeper than {MAX_CONFIG_DEPTH} levels"
    if not isinstance(value, dict):
        return f"{label} must hold a JSON object, got {json_type(value)}"
    return None


def json_depth(value: object) -> int:
    """Levels of arrays and objects, counted without recursion (the point: a value nested too
    deeply for a recursive walk is measured, not walked)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, level = pending.pop()
        children = (
            list(node.values())
            if isinstance(node, dict)
            else node
            if isinstance(node, list)
            else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest
