"""Every format lands the same values, whichever message mode carried them (a differential test).

One small org, read once in RECORD mode and once in BATCH mode (the tap's Parquet files). Each is
landed by target-events in parquet, jsonl, csv and delta, and every stream's rows are read back
with independent readers (pyarrow's Parquet and CSV readers, ``json``, ``deltalake``), typed by
the Parquet reference's schema, and compared value by value with the Parquet landing of the
RECORD run. A route that renders a value otherwise (a decimal's digits, a timestamp's fraction,
a null as an empty string, a nested value) fails here, named by format, mode and stream.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable

from synthetic_org import SandboxOrg
from tests.helpers import run_tap, run_target, tap_config

FORMATS = ("parquet", "jsonl", "csv", "delta")
MODES = ("record", "batch")
# Values of the run, not of the data: when it ran.
RUN_COLUMNS = frozenset({"extracted_at", "_sdc_extracted_at", "snapshot_at", "_sdc_batched_at"})


@pytest.fixture(scope="module")
def tap_outputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The org read in each message mode: mode -> the tap's stdout."""
    outputs: dict[str, str] = {}
    with SandboxOrg(seed=5, scale=20) as org:
        for mode in MODES:
            root = tmp_path_factory.mktemp(f"tap-{mode}")
            config = tap_config(org, api_type="auto", bulk_threshold=40)
            if mode == "batch":
                config["batch_config"] = {
                    "encoding": {"format": "parquet", "compression": "none"},
                    "storage": {"root": (root / "batches").as_uri(), "prefix": "batch-"},
                    "batch_size": 50,
                }
            run = run_tap(root, config)
            assert run.returncode == 0, run.stderr[-2000:]
            outputs[mode] = run.stdout
        yield outputs


def _land(tmp_path: Path, stdout: str, fmt: str) -> Path:
    destination = tmp_path / f"out-{fmt}"
    run = run_target(tmp_path, {"destination": str(destination), "format": fmt}, stdout)
    assert run.returncode == 0, run.stderr[-2000:]
    return destination


def _stream_folders(destination: Path, suffix: str) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for folder in sorted(p for p in destination.iterdir() if p.is_dir()):
        if folder.name.startswith("_"):
            continue
        files = sorted(f for f in folder.rglob(f"*{suffix}") if "_delta_log" not in f.parts)
        if files:
            found[folder.name] = files
    return found


def _typed(value: Any, kind: pa.DataType) -> Any:
    """A value read back from text (JSON or CSV), as the Parquet reference types it."""
    if value is None:
        return None
    if pa.types.is_decimal(kind):
        return decimal.Decimal(str(value))
    if pa.types.is_timestamp(kind):
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if pa.types.is_date(kind):
        return dt.date.fromisoformat(str(value))
    if pa.types.is_struct(kind):
        value = json.loads(value) if isinstance(value, str) else value
        return {field.name: _typed(value.get(field.name), field.type) for field in kind}
    if pa.types.is_list(kind):
        value = json.loads(value) if isinstance(value, str) else value
        return [_typed(item, kind.value_type) for item in value]
    if pa.types.is_boolean(kind):
        return value if isinstance(value, bool) else {"true": True, "false": False}[value]
    if pa.types.is_integer(kind):
        return int(value)
    if pa.types.is_floating(kind):
        return float(value)
    return value


def _canonical(value: Any) -> Any:
    """Values compared as values: decimals by number, instants in UTC, nested recursively."""
    if isinstance(value, decimal.Decimal):
        return f"decimal:{value.normalize():f}" if value else "decimal:0"
    if isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _rows(records: list[dict], schema: pa.Schema) -> list[str]:
    kinds = {field.name: field.type for field in schema}
    rows = []
    for record in records:
        row = {
            name: _canonical(_typed(value, kinds[name]) if name in kinds else value)
            for name, value in record.items()
            if name not in RUN_COLUMNS
        }
        rows.append(json.dumps(row, sort_keys=True, default=str))
    return sorted(rows)


def _read_parquet(files: list[Path]) -> pa.Table:
    return ds.dataset(files, format="parquet").to_table()


def _read_back(destination: Path, fmt: str, schemas: dict[str, pa.Schema]) -> dict[str, list]:
    """Stream -> its rows as canonical JSON, each format read by its own reader."""
    landed: dict[str, list] = {}
    if fmt == "delta":
        for folder in sorted(p for p in destination.iterdir() if (p / "_delta_log").is_dir()):
            table = DeltaTable(str(folder)).to_pyarrow_table()
            landed[folder.name] = _rows(table.to_pylist(), schemas[folder.name])
        return landed
    suffix = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}[fmt]
    for stream, files in _stream_folders(destination, suffix).items():
        schema = schemas[stream]
        if fmt == "parquet":
            records = _read_parquet(files).to_pylist()
        elif fmt == "jsonl":
            records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
        else:
            options = pa_csv.ConvertOptions(
                column_types={field.name: pa.string() for field in schema},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            )
            records = [
                row
                for f in files
                for row in pa_csv.read_csv(f, convert_options=options).to_pylist()
            ]
        landed[stream] = _rows(records, schema)
    return landed


@pytest.fixture(scope="module")
def reference(
    tap_outputs: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, pa.Schema], dict[str, list]]:
    """RECORD mode landed as Parquet: each stream's schema and rows."""
    destination = _land(tmp_path_factory.mktemp("reference"), tap_outputs["record"], "parquet")
    schemas = {
        stream: _read_parquet(files).schema
        for stream, files in _stream_folders(destination, ".parquet").items()
    }
    assert {"Account", "Opportunity", "micro_decision_events"} <= set(schemas)
    return schemas, _read_back(destination, "parquet", schemas)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_given_any_format_and_message_mode_then_every_stream_lands_the_same_values(
    tap_outputs: dict[str, str],
    reference: tuple[dict[str, pa.Schema], dict[str, list]],
    tmp_path: Path,
    mode: str,
    fmt: str,
) -> None:
    schemas, expected = reference
    landed = _read_back(_land(tmp_path, tap_outputs[mode], fmt), fmt, schemas)
    assert sorted(landed) == sorted(expected)
    for stream, rows in expected.items():
        assert len(landed[stream]) == len(rows), f"{stream} via {mode}/{fmt}: row count"
        for got, want in zip(landed[stream], rows, strict=True):
            assert json.loads(got) == json.loads(want), f"{stream} via {mode}/{fmt}"
