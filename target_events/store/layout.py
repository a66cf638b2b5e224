"""Object keys: the key template, Hive partition values, and stream names made safe.

A stream name is untrusted input (any tap can send ``../../etc``); it becomes one path segment of
safe characters, disambiguated by a short hash when it had to be changed, and the rendered key is
checked to stay below the destination.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ..config.key_template import KeyProblem, check_key, render
from ..config.settings import Partitioning
from ..errors import StorageError

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


class UnsafeKey(StorageError, ValueError):
    """A rendered object key would leave the destination (one line, like every TargetError)."""


def refuse_links(root: Path, relative: str) -> Path:
    """``root / relative``, refused when any existing folder or file on the way is a symlink.

    Judged on what the OS would follow, one component at a time (``lstat``): a symlink planted
    at ``DEST/<stream>`` would otherwise carry the writes of every format outside DEST.
    """
    path = root
    for part in Path(relative).parts:
        path = path / part
        if path.is_symlink():
            raise UnsafeKey(
                f"'{path.relative_to(root)}' under the destination '{root}' is a symlink;"
                " nothing is written through a symlink (remove it, or choose another destination)"
            )
    return path


def safe_stream_name(name: str) -> str:
    """One path segment of ``[A-Za-z0-9_-]``; changed names get a hash suffix to stay distinct."""
    normalized = unicodedata.normalize("NFKC", name)
    safe = _UNSAFE.sub("_", normalized).strip("_-")[:100] or "stream"
    if safe != name:
        safe = f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return safe


def render_key(
    template: str, *, stream: str, partition: str, run_id: str, seq: int, ext: str
) -> str:
    """Render the (already checked) template; an empty partition leaves no empty segment.

    The result is checked again: anything absolute, climbing out or not clean is refused.
    """
    raw = render(
        template,
        stream=safe_stream_name(stream),
        partition=partition,
        run_id=run_id,
        seq=seq,
        ext=ext,
    )
    key = "/".join(p for p in raw.split("/") if p) if not partition else raw
    try:
        return check_key(key)
    except KeyProblem as problem:
        raise UnsafeKey(f"object key {raw!r} would leave the destination ({problem})") from None


def partition_values(column: pa.ChunkedArray | pa.Array, spec: Partitioning) -> pa.Array:
    """The Hive partition path of each row (``date=2025-05-19``), nulls in the default partition."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC"))
    if pa.types.is_date(column.type):
        column = column.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    pattern = {"day": "date=%Y-%m-%d", "month": "month=%Y-%m", "hour": "date=%Y-%m-%d/hour=%H"}[
        spec.granularity
    ]
    formatted = pc.strftime(column, format=pattern)
    return pc.fill_null(formatted, spec_null(spec))


def spec_null(spec: Partitioning) -> str:
    return f"{'month' if spec.granularity == 'month' else 'date'}={HIVE_NULL}"
