"""singer-sdk's standard tap test suite, run against the embedded sandbox org.

No exclusions: every built-in test runs.
"""

from __future__ import annotations

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_salesforce_temporal.tap import TapSalesforceTemporal

CONFIG = {
    "embedded_org": True,
    "embedded_org_scale": 30,
    "objects": [
        "Account",
        "Opportunity",
        "OpportunityFieldHistory",
        "Project__c",
        "SetupAuditTrail",
    ],
    "start_date": "2020-01-01T00:00:00Z",
}

TestTapSalesforceTemporal = get_tap_test_class(
    tap_class=TapSalesforceTemporal,
    config=CONFIG,
    suite_config=SuiteConfig(),
)
