"""Every stream of the embedded org takes the chunk path and lands what the per-record path lands.

Compound addresses (Account, Contact, Lead), geolocations, micro_decision_events' context (a
struct holding an open object) and every flat object: the records the real tap emits, converted
a chunk at a time, equal the per-record conversion of the same records. A stream the converter
declines would cost ~10x more per row (issue #16), so declining is a failure here too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from target_events.ingest.arrow import StreamSchema
from target_events.ingest.json_chunks import ChunkConverter, decode_json, envelope_decoder
from tests.helpers import run_tap, tap_config


def test_every_stream_of_the_org_converts_in_chunks_like_record_by_record(
    tmp_path: Path, small_org
) -> None:
    run = run_tap(tmp_path, tap_config(small_org))
    assert run.returncode == 0, run.stderr[-2000:]
    schemas: dict[str, dict] = {}
    keys: dict[str, list] = {}
    lines: dict[str, list[str]] = defaultdict(list)
    for raw_line in run.stdout.splitlines():
        message = json.loads(raw_line)
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
            keys[message["stream"]] = message.get("key_properties") or []
        elif message["type"] == "RECORD":
            lines[message["stream"]].append(raw_line)
    assert {"Account", "Contact", "micro_decision_events"} <= set(lines)
    for stream, stream_lines in lines.items():
        schema = StreamSchema.from_json_schema(schemas[stream])
        converter = ChunkConverter.for_schema(schema.properties, schema.arrow, keys[stream])
        assert converter is not None, f"{stream}: its schema keeps the per-record path"
        # The record objects byte for byte, decoded as the per-record path decodes them.
        raws = [bytes(envelope_decoder.decode(line).record) for line in stream_lines]
        records = [decode_json(raw, 0) for raw in raws]
        for record in records:
            schema.check(record)
        expected = schema.to_table(records)
        by_records = converter.convert(raws)
        assert by_records is not None, f"{stream}: a chunk of the tap's records was declined"
        assert by_records.equals(expected), stream
        block = "".join(line + "\n" for line in stream_lines).encode()
        by_lines = converter.convert_messages(block, len(stream_lines))
        assert by_lines is not None, f"{stream}: a run of the tap's lines was declined"
        assert by_lines.equals(expected), stream
