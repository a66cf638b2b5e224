"""Datetimes as Salesforce writes them (``2024-01-15T10:30:00.000`` + ``Z`` or ``+0000``).

Pure Arrow: a day's date, a second's ``HH:MM:SS.`` and a millisecond's ``mmm`` + suffix are each
taken from a small table of texts, so no value is formatted one by one (about 5x ``strftime``;
equal to it, see ``tests/unit/test_format_datetimes.py``). Pages are formatted as they are served,
so the org keeps no text copy of any table.
"""

from __future__ import annotations

import functools
import threading

import pyarrow as pa
import pyarrow.compute as pc

_DAYS_TABLE_MIN = 4096  # a table of this many dates costs less than formatting a page of them
_TEXTS_LOCK = threading.Lock()


def datetime_parts(values: pa.Array, suffix: str) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(date, ``HH:MM:SS.``, ``mmm`` + suffix) per value; joined with ``T`` after the date they
    are the text. Nulls stay null in every part."""
    millis = values.cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    days = pc.floor(pc.divide(millis.cast(pa.float64()), 86_400_000.0)).cast(pa.int64())
    in_day = pc.subtract(millis, pc.multiply(days, 86_400_000))
    seconds = pc.divide(in_day, 1000)
    fraction = pc.subtract(in_day, pc.multiply(seconds, 1000))
    first, last = (scalar.as_py() for scalar in pc.min_max(days).values())
    if first is not None and last - first < max(len(values), _DAYS_TABLE_MIN):
        dates = pa.array(range(first, last + 1), pa.int32()).cast(pa.date32()).cast(pa.string())
        date = pc.take(dates, pc.subtract(days, first))
    else:  # all null, or a few values spread over centuries: format each date instead
        date = days.cast(pa.int32()).cast(pa.date32()).cast(pa.string())
    with _TEXTS_LOCK:  # built once, not once by each of the threads that first need them
        clock, millis_texts = _clock_texts(), _millis_texts(suffix)
    return date, pc.take(clock, seconds), pc.take(millis_texts, fraction)


def format_datetimes(values: pa.Array | pa.ChunkedArray, suffix: str) -> pa.Array:
    """The values as text (nulls stay null)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    date, clock, millis = datetime_parts(values, suffix)
    return pc.binary_join_element_wise(date, "T", clock, millis, "")


@functools.cache
def _clock_texts() -> pa.Array:
    """``HH:MM:SS.`` for each second of a day."""
    two_digits = pa.array([f"{n:02d}" for n in range(60)])
    second = pa.array(range(86_400), pa.int32())
    return pc.binary_join_element_wise(
        pc.take(two_digits, pc.divide(second, 3600)),
        ":",
        pc.take(
            two_digits,
            pc.divide(pc.subtract(second, pc.multiply(pc.divide(second, 3600), 3600)), 60),
        ),
        ":",
        pc.take(two_digits, pc.subtract(second, pc.multiply(pc.divide(second, 60), 60))),
        ".",
        "",
    )


@functools.cache
def _millis_texts(suffix: str) -> pa.Array:
    """``mmm`` + suffix for each millisecond of a second."""
    return pa.array([f"{ms:03d}{suffix}" for ms in range(1000)])
