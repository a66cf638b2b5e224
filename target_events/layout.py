"""Object keys: the key template, Hive partition values, and stream names made safe.

A stream name is untrusted input (any tap can send ``../../etc``); it becomes one path segment of
safe characters, disambiguated by a short hash when it had to be changed, and the rendered key is
checked to stay below the destination.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

from .settings import Partitioning

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


class UnsafeKey(ValueError):
    """A rendered object key would leave the destination."""


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
    """Render the template and normalise it; refuse anything that is absolute or climbs out."""
    raw = template.format(
        stream=safe_stream_name(stream), partition=partition, run_id=run_id, seq=seq, ext=ext
    )
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    key = posixpath.normpath("/".join(parts)) if parts else ""
    if not key or key.startswith(("/", "..")) or "/../" in f"/{key}/" or "\\" in key:
        raise UnsafeKey(f"object key {raw!r} would leave the destination")
    return key


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
