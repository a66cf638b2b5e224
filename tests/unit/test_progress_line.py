"""Progress lines of a long read: share and time left when the tap counted the rows first."""

from __future__ import annotations

import pytest

from tap_salesforce_temporal.query.reader import progress_line


@pytest.mark.parametrize(
    ("rows", "total", "rate", "expected"),
    [
        (120_000, 480_000, 8_000.0, "Opp: 120,000 of 480,000 rows (25.0%), 8,000 rows/s, ETA 45s"),
        (1_000, 4_000_000, 1_000.0, "Opp: 1,000 of 4,000,000 rows (0.0%), 1,000 rows/s, ETA 1h06m"),
        (50, 10, 5.0, "Opp: 50 of 10 rows (100.0%), 5 rows/s, ETA 0s"),
        (0, 10, 0.0, "Opp: 0 of 10 rows (0.0%), 0 rows/s, ETA unknown"),
        (7_000, None, 700.0, "Opp: 7,000 rows so far, 700 rows/s"),
    ],
)
def test_given_a_known_total_then_the_line_has_percentage_and_eta(
    rows: int, total: int | None, rate: float, expected: str
) -> None:
    assert progress_line("Opp", rows, total, rate) == expected
