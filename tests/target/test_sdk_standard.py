"""singer-sdk's standard target test suite.

No exclusions: every built-in test runs (each writes into a fresh temporary destination).
"""

from __future__ import annotations

import tempfile

from singer_sdk.testing import get_target_test_class

from target_events.target import TargetEvents

TestTargetEvents = get_target_test_class(
    target_class=TargetEvents,
    config={"destination": tempfile.mkdtemp(prefix="target-events-sdk-")},
)
