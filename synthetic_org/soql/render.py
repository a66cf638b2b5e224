"""Query results rendered as Salesforce renders them: REST JSON records and Bulk API 2.0 CSV pages."""

from __future__ import annotations

import decimal
import io

import msgspec
import pyarrow as pa
import pyarrow.csv as pa_csv

from ..metadata import COMPOUND_TYPES
from .datetimes import format_datetimes
from .engine import Column, QueryResult
from .java_double import java_double_text

CSV_DATETIME_SUFFIX = "Z"  # Bulk 2.0: 2024-01-15T10:30:00.000Z
REST_DATETIME_SUFFIX = "+0000"  # REST: 2024-01-15T10:30:00.000+0000


def _rest_values(column: Column, array: pa.Array, data_types: list | None, base: str) -> list:
    spec = column.spec
    if spec.type == "datetime":
        return format_datetimes(array, REST_DATETIME_SUFFIX).to_pylist()
    if spec.type == "date":
        return array.cast(pa.string()).to_pylist()
    if spec.type == "base64":
        return [None if v is None else f"{base}/{v}" for v in array.to_pylist()]
    values = array.to_pylist()
    if spec.type == "anyType" and data_types is not None:
        return [_typed_any(v, t) for v, t in zip(values, data_types, strict=True)]
    if spec.type == "int":
        return [None if v is None else int(v) for v in values]
    if pa.types.is_decimal(array.type) or pa.types.is_floating(array.type):
        return [salesforce_number(v) for v in values]
    if pa.types.is_struct(array.type):  # address, location: their latitude/longitude doubles
        return [
            None if v is None else {k: salesforce_number(x) for k, x in v.items()} for v in values
        ]
    return values


def salesforce_number(value: object) -> object:
    """A currency, percent or double value as Salesforce's JSON writes it (``java_double``)."""
    if isinstance(value, (float, decimal.Decimal)):
        return msgspec.Raw(java_double_text(float(value)).encode())
    return value


def _typed_any(value: str | None, data_type: str | None) -> object:
    """REST renders anyType history values with their JSON type (numbers, booleans)."""
    if value is None:
        return None
    if data_type in ("Currency", "Double", "Percent"):
        return salesforce_number(float(value))
    if data_type == "Boolean":
        return value == "true"
    return value


def rest_records(result: QueryResult, start: int, stop: int, version: str) -> list[dict]:
    """The ``records`` array of a query page, exactly as Salesforce shapes it."""
    page = result.table.slice(start, stop - start)
    obj = result.obj.name
    sobjects = f"/services/data/v{version}/sobjects"
    ids = page["Id"].to_pylist()
    data_types = page["DataType"].to_pylist() if "DataType" in page.column_names else None
    columns: list[tuple[Column, list]] = []
    for column in result.columns:
        array = page[column.key].combine_chunks()
        columns.append((column, _rest_values(column, array, data_types, f"{sobjects}/{obj}")))
    records = []
    for row, record_id in enumerate(ids):
        record: dict = {"attributes": {"type": obj, "url": f"{sobjects}/{obj}/{record_id}"}}
        for column, values in columns:
            if column.reference is None:
                record[column.name] = values[row]
                continue
            rel_name = column.reference.field.relationship_name or ""
            parent_id = page[f"__ref__{rel_name}"][row].as_py()
            if parent_id is None:
                record[rel_name] = None
                continue
            nested = record.get(rel_name) or {
                "attributes": {
                    "type": column.reference.target.name,
                    "url": f"{sobjects}/{column.reference.target.name}/{parent_id}",
                }
            }
            nested[column.spec.name] = values[row]
            record[rel_name] = nested
        records.append(record)
    return records


def csv_page(result: QueryResult, start: int, stop: int) -> bytes:
    """One Bulk 2.0 result page: every value quoted, nulls empty, ISO datetimes with ``.000Z``."""
    page = result.table.slice(start, stop - start)
    arrays, names = [], []
    for column in result.columns:
        array = page[column.key]
        if column.spec.type == "datetime":
            array = format_datetimes(array, CSV_DATETIME_SUFFIX)
        elif column.spec.type == "date":
            array = array.cast(pa.string())
        arrays.append(array)
        names.append(column.name)
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(include_header=True, quoting_style="all_valid")
    pa_csv.write_csv(pa.table(arrays, names=names), buffer, write_options=options)
    return buffer.getvalue()


def bulk_unsupported_reason(result: QueryResult) -> str | None:
    if any(c.spec.type in COMPOUND_TYPES for c in result.columns):
        return "Selecting compound data not supported in Bulk Query"
    if any(c.spec.type == "base64" for c in result.columns):
        return "Selecting base64 fields not supported in Bulk Query"
    return None
