"""The same tap and target with the singer-sdk's defaults, as the baseline ``make bench`` compares to.

Tap: the SDK's SingerWriter (simplejson, flush per message) and RECURSIVE type conformance.
Target: the SDK's SingerReader (stdlib json with Decimal) and jsonschema validation of every record.

    python -m bench.baselines tap|target --config ...
"""

from __future__ import annotations

import sys

from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.io_base import SingerReader, SingerWriter


def tap() -> None:
    from tap_salesforce_temporal.streams.sobject import SObjectStream
    from tap_salesforce_temporal.tap import TapSalesforceTemporal

    TapSalesforceTemporal.message_writer_class = SingerWriter  # also turns off the fast record path
    SObjectStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.RECURSIVE
    TapSalesforceTemporal.cli()


def target() -> None:
    from singer_sdk import Target
    from singer_sdk.sinks import BatchSink

    from target_events.ingest.sinks import EventsSink
    from target_events.target import TargetEvents

    def validate_with_jsonschema(self: EventsSink, record: dict) -> dict:
        validator = self.__dict__.get("_jsonschema_validator")
        if validator is None:
            validator = self.__dict__["_jsonschema_validator"] = BatchSink.get_validator(self)
        validator.validate(record)
        return EventsSink._compiled_validate(self, record)

    EventsSink._compiled_validate = EventsSink._validate_and_parse  # type: ignore[attr-defined]
    EventsSink._validate_and_parse = validate_with_jsonschema  # type: ignore[method-assign]
    TargetEvents.message_reader_class = SingerReader
    TargetEvents._process_record_message = Target._process_record_message  # type: ignore[method-assign]
    TargetEvents.cli()


if __name__ == "__main__":
    role = sys.argv.pop(1)
    {"tap": tap, "target": target}[role]()
