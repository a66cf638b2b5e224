"""The org writes datetimes from lookup tables of texts; they must read exactly as Arrow's own
``strftime`` writes them (``2024-01-15T10:30:00.000Z``), for any instant a Salesforce org holds."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from synthetic_org.soql.datetimes import format_datetimes

INSTANTS = st.datetimes(
    min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(4000, 12, 31, 23, 59, 59)
).map(lambda value: value.replace(microsecond=value.microsecond // 1000 * 1000))


# Within days of each other (the table of dates path) or centuries apart (formatted one by one).
CLUSTERED = st.builds(
    lambda base, steps: [None if s is None else base + dt.timedelta(milliseconds=s) for s in steps],
    INSTANTS,
    st.lists(st.none() | st.integers(-(10**9), 10**9), max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(
    instants=st.lists(st.none() | INSTANTS, max_size=8) | CLUSTERED,
    suffix=st.sampled_from(["Z", "+0000"]),
    offset=st.integers(0, 2),
)
def test_given_any_instants_when_formatted_then_text_equals_strftime(
    instants: list[dt.datetime | None], suffix: str, offset: int
) -> None:
    values = pa.array(
        [None if v is None else v.replace(tzinfo=dt.timezone.utc) for v in instants],
        pa.timestamp("ms", tz="UTC"),
    ).slice(min(offset, len(instants)))
    expected = pc.strftime(values, format="%Y-%m-%dT%H:%M:%S" + suffix)
    assert format_datetimes(values, suffix).to_pylist() == expected.to_pylist()
