"""Reading a user's JSON file strictly: one line naming the file, never a parser's traceback.

Config, catalog and state files (and the Airbyte source's) are read here before the SDK reads
them again with simplejson. Python's parsers accept what JSON does not (``NaN``, ``Infinity``),
and a file nested 50,000 deep ends in a ``RecursionError``; a value nested only 900 deep parses,
then trips a recursive walk later (schema checks, deep copies). So: the JSON of RFC 8259 only, and
at most ``MAX_DEPTH`` levels of arrays and objects, far more than any Singer or Airbyte document
needs (a catalog's schema of compound fields is about 8 deep).
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path

MAX_DEPTH = 100


class JsonFileError(ValueError):
    """A file that cannot be used as JSON input; the message names the file, never its content."""


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def loads(text: str) -> object:
    """Strict JSON: ``ValueError`` for NaN/Infinity, malformed text or nesting over ``MAX_DEPTH``.

    Floats are read as ``Decimal`` as the SDK reads them (``1e400`` stays a number, not ``inf``).
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=decimal.Decimal)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def depth(value: object) -> int:
    """Levels of arrays and objects in a parsed value, counted without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        node, level = pending.pop()
        if isinstance(node, dict):
            children: list | tuple = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest


def read(label: str, path: str | Path) -> object:
    """The parsed content of ``path``; ``label`` (``--config file x.json``) starts every error."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise JsonFileError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise JsonFileError(f"{label}: is a directory, not a file") from None
    except OSError as error:
        raise JsonFileError(f"{label}: cannot be read ({error.strerror or error})") from None
    except MemoryError:
        raise JsonFileError(f"{label}: too large to read into memory") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonFileError(f"{label}: not UTF-8 text (byte {error.start + 1})") from None
    try:
        return loads(text)
    except json.JSONDecodeError as error:
        raise JsonFileError(
            f"{label}: not valid JSON ({error.msg}: line {error.lineno} column {error.colno})"
        ) from None
    except ValueError as error:  # NaN, nesting, an integer of over 4,300 digits
        raise JsonFileError(f"{label}: not valid JSON ({_first_line(str(error))})") from None
    except MemoryError:
        raise JsonFileError(f"{label}: too large to read into memory") from None


def read_object(label: str, path: str | Path) -> dict:
    """``read``, and the content must be a JSON object (every input file of these commands is)."""
    value = read(label, path)
    if not isinstance(value, dict):
        raise JsonFileError(f"{label}: expects a JSON object, got {json_kind(value)}")
    return value


def json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, decimal.Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unreadable"
    return line if len(line) <= 120 else line[:117] + "..."
