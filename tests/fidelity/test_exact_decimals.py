"""Currency and percent values stay exact from the org to Parquet, whichever path reads them.

The embedded org's first Account has AnnualRevenue 9876543210987654.32 (currency(18, 2)): 18
digits, more than a double keeps, so any float on the way shows as lost cents. Bulk CSV carries
them all; REST JSON carries what a real org's serializer writes, a double (9.876543210987654E15),
and that lands exactly as sent.
"""

from __future__ import annotations

import decimal
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from synthetic_org import SandboxOrg
from synthetic_org.data.accounts import BEYOND_FLOAT_REVENUE
from synthetic_org.soql.java_double import java_double_text
from tests.helpers import run_tap, run_target, tap_config

EXACT = "9876543210987654.32"


@pytest.mark.parametrize("api_type", ["rest", "bulk", "bulk-batch"])
def test_given_a_revenue_beyond_float_precision_when_replicating_then_it_lands_exactly(
    small_org: SandboxOrg, tmp_path: Path, api_type: str
) -> None:
    assert str(BEYOND_FLOAT_REVENUE) == EXACT
    config = tap_config(small_org, objects=["Account"], api_type=api_type.split("-")[0])
    if api_type.endswith("batch"):
        config["batch_config"] = {
            "encoding": {"format": "parquet", "compression": "none"},
            "storage": {"root": (tmp_path / "batches").as_uri(), "prefix": "batch-"},
        }
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    [schema] = [
        m["schema"] for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == "Account"
    ]
    revenue = schema["properties"]["AnnualRevenue"]
    assert revenue["type"] == ["number", "null"], "other targets still read a number"
    assert revenue["multipleOf"] == 0.01
    assert (revenue["exclusiveMinimum"], revenue["exclusiveMaximum"]) == (-(10**16), 10**16)
    # Bulk CSV carries the stored digits; REST JSON carries the double a real org's serializer
    # writes (Java's Double.toString: synthetic_org/soql/java_double.py), 16 significant digits.
    sent = EXACT if api_type.startswith("bulk") else java_double_text(float(EXACT))
    assert sent == (EXACT if api_type.startswith("bulk") else "9.876543210987654E15")
    if not api_type.endswith("batch"):
        exact = [
            json.loads(line, parse_float=decimal.Decimal, parse_int=decimal.Decimal)
            for line in run.stdout.splitlines()
            if line.startswith('{"type":"RECORD","stream":"Account"')
        ]
        revenues = {m["record"]["AnnualRevenue"] for m in exact}
        assert decimal.Decimal(sent) in revenues, "the RECORD line carries every digit sent"
    out = tmp_path / "out"
    target = run_target(tmp_path, {"destination": str(out)}, run.stdout)
    assert target.returncode == 0, target.stderr
    table = ds.dataset(out / "Account", format="parquet", partitioning="hive").to_table()
    assert table.schema.field("AnnualRevenue").type == pa.decimal128(18, 2)
    assert decimal.Decimal(sent) in table["AnnualRevenue"].to_pylist(), "exact, as sent"


def test_given_a_percent_field_when_discovering_then_its_scale_is_in_the_schema(
    small_org: SandboxOrg, tmp_path: Path
) -> None:
    run = run_tap(tmp_path, tap_config(small_org, objects=["Opportunity"]), discover=True)
    assert run.returncode == 0, run.stderr
    [stream] = [s for s in json.loads(run.stdout)["streams"] if s["tap_stream_id"] == "Opportunity"]
    assert stream["schema"]["properties"]["Probability"] == {
        "type": ["number", "null"],
        "multipleOf": 1,
        "exclusiveMaximum": 1000,
        "exclusiveMinimum": -1000,
    }
