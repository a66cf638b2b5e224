"""A Bulk page is parsed by Arrow's thread pool from memory Arrow owns, never from a Python object.

Arrow's pool thread that finishes ``read_csv`` drops the reader's input, sometimes just after
``read_csv`` has returned. A Python input (``io.BytesIO``, a buffer over ``bytes``) needs the GIL
to be dropped; when the interpreter is finalizing by then (the quota guard's stop ends the run
right after a page), Python ends that C++ thread mid-destructor and the process aborts
("terminate called without an active exception", exit -6 instead of ``quota_exit_code``). The
race itself is ~1 run in 100 on a busy machine (``tools/exit_abort_repro.py`` counts it); what
this file checks is the invariant that rules it out, on every parse.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from tap_salesforce_temporal.discovery.schema import from_describe
from tap_salesforce_temporal.query import values
from tap_salesforce_temporal.query.values import RecordShaper, arrow_owned

SCHEMA = from_describe(
    {
        "name": "OpportunityFieldHistory",
        "fields": [
            {"name": "Id", "type": "id"},
            {"name": "CreatedDate", "type": "datetime"},
            {"name": "IsDeleted", "type": "boolean"},
        ],
    }
)
STREETS = from_describe(
    {
        "name": "Account",
        "fields": [{"name": "Id", "type": "id"}, {"name": "BillingStreet", "type": "textarea"}],
    }
)
PAGE = b'"Id","CreatedDate","IsDeleted"\n"017A","2024-01-15T10:30:00.000Z","false"\n"017B",,\n'


def test_given_a_payload_when_made_arrow_owned_then_its_bytes_are_copied_out_of_python() -> None:
    payload = bytes(PAGE)
    buffer = arrow_owned(payload)
    assert buffer.to_pybytes() == payload
    assert buffer.address != pa.py_buffer(payload).address, "a copy, not a view of the bytes"


def test_given_a_bulk_page_when_parsed_then_arrow_reads_it_from_its_own_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    payload = bytes(PAGE)
    read_csv = values.pa_csv.read_csv
    sources: list[object] = []

    def spy(source: object, **options: object) -> pa.Table:
        sources.append(source)
        return read_csv(source, **options)

    monkeypatch.setattr(values.pa_csv, "read_csv", spy)
    table = RecordShaper(SCHEMA, ["Id", "CreatedDate", "IsDeleted"]).csv_table(payload)

    assert table.to_pylist() == [
        {"Id": "017A", "CreatedDate": "2024-01-15T10:30:00.000Z", "IsDeleted": False},
        {"Id": "017B", "CreatedDate": None, "IsDeleted": None},
    ]
    [source] = sources
    assert isinstance(source, pa.BufferReader), f"Arrow was handed a Python object: {source!r}"
    source.seek(0)
    assert source.read_buffer().address != pa.py_buffer(payload).address, (
        "Arrow's reader holds the payload's own bytes: dropping it needs the GIL"
    )


def test_given_a_page_larger_than_a_block_with_line_breaks_in_values_then_every_row_is_read() -> (
    None
):
    """A Bulk page of more than Arrow's 4 MiB block whose quoted values hold line breaks (the
    streets of a real org's addresses) parses whole: cut into blocks at a line break inside a
    value, it failed, and each retry of the page failed the same way."""
    shaper = RecordShaper(STREETS, ["Id", "BillingStreet"])
    rows = 100_000  # ~5.5 MiB
    lines = [b'"Id","BillingStreet"']
    lines += [b'"001%015d","%d Market Street\nSuite %d"' % (i, i, i) for i in range(rows)]
    payload = b"\n".join(lines) + b"\n"
    assert len(payload) > 4 * 1024 * 1024

    table = shaper.csv_table(payload)

    assert table.num_rows == rows
    assert table["BillingStreet"][rows - 1].as_py() == f"{rows - 1} Market Street\nSuite {rows - 1}"
