"""A synthetic Salesforce org served over HTTP on 127.0.0.1 (not a Salesforce sandbox org).

It speaks Salesforce's wire formats (OAuth, REST, Bulk API 2.0, errors, Sforce-Limit-Info) over
seeded synthetic data, for tests, demos and benchmarks of any Salesforce client. Its parts:

- ``state``: the running org (data, sessions, API usage, faults) and its lifecycle
- ``rest`` / ``bulk``: REST resources and Bulk API 2.0 query jobs
- ``handler``: the HTTP routing; ``oauth``: token endpoint and sessions
- ``soql``: parser, engine over Arrow tables, REST/CSV rendering
- ``data``: synthetic data by family; ``metadata``: objects and fields as data
- ``faults``: failure switches; ``cli``: the ``synthetic-org serve`` command

It imports nothing from the tap.
"""

from __future__ import annotations

from .faults import Faults
from .state import SandboxOrg

__all__ = ["Faults", "SandboxOrg"]
