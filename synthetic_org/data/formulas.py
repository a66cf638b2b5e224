"""Formula field values: what the org computes when a formula field is read.

Salesforce computes a formula field's value when the record is queried and never stores it, so
neither SystemModstamp nor LastModifiedDate moves when the value changes: a formula comparing
with the current date changes "despite no record updates occurring" (Salesforce Help 000396215,
"What are Derived Fields in Salesforce?"), and so does a cross-object formula when its parent
changes. Incremental extractors keep the stale value (airbytehq/airbyte#26765).
The org keeps formula columns materialized and refreshes them whenever an input changes (a parent
record's field, the org's today), which answers every read exactly as a read-time evaluation
would, without touching the audit fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

TableOf = Callable[[str], pa.Table]


def invoice_formulas(invoices: pa.Table, projects: pa.Table, today: dt.date) -> pa.Table:
    """Invoice__c's formula columns (formulas as the describe shows them):

    - ``Project_Status__c`` = ``TEXT(Project__r.Status__c)``: the parent project's status, null
      when the project is gone;
    - ``Days_Overdue__c`` = ``IF(ISPICKVAL(Status__c, "Paid"), 0, MAX(0, TODAY() - Due_Date__c))``.
    """
    positions = pc.index_in(invoices["Project__c"], value_set=projects["Id"])
    status = projects["Status__c"].take(positions)
    today_days = (today - dt.date(1970, 1, 1)).days
    due_days = pc.cast(invoices["Due_Date__c"], pa.int32())
    overdue = pc.max_element_wise(pc.subtract(pa.scalar(today_days, pa.int32()), due_days), 0)
    overdue = pc.if_else(pc.equal(invoices["Status__c"], "Paid"), pa.scalar(0, pa.int32()), overdue)
    table = invoices
    for name, values in (
        ("Project_Status__c", status),
        ("Days_Overdue__c", pc.cast(overdue, pa.float64())),
    ):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index), values)
    return table


def refresh_formulas(table_of: TableOf, today: dt.date) -> dict[str, pa.Table]:
    """Every object with formula fields, its formula columns recomputed from current inputs."""
    return {"Invoice__c": invoice_formulas(table_of("Invoice__c"), table_of("Project__c"), today)}
