"""The seeded synthetic org: realistic, time-ordered Salesforce data, deterministic per seed.

Each family of related objects (an opportunity with its snapshots, field history and approvals) is
simulated together so that history agrees with its parent record, and is generated lazily on first
use with its own seeded random stream: a benchmark that only reads OpportunityFieldHistory never
pays for Cases, and the order in which families are touched never changes the data.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pyarrow as pa

from .accounts import simulate_accounts
from .activities import simulate_activities
from .base import World, spec
from .cases import simulate_cases
from .columns import TableBuilder
from .files import simulate_files
from .leads import simulate_leads
from .opportunities import simulate_opportunities
from .projects import simulate_projects, simulate_wide_records
from .setup import simulate_setup
from .setup_metadata import simulate_setup_metadata
from .users import simulate_users

Family = Callable[[World, random.Random], dict[str, pa.Table]]


def _empty_archive(org: World, rng: random.Random) -> dict[str, pa.Table]:
    return {"FieldHistoryArchive": TableBuilder(spec("FieldHistoryArchive")).to_table()}


# Each family's random stream is seeded by its key: the keys are the data's identity, keep them.
FAMILIES: dict[str, tuple[Family, tuple[str, ...]]] = {
    "_users": (simulate_users, ("User",)),
    "_accounts": (simulate_accounts, ("Account", "AccountHistory", "Contact", "ContactHistory")),
    "_leads": (simulate_leads, ("Lead", "LeadHistory")),
    "_opportunities": (
        simulate_opportunities,
        (
            "Opportunity",
            "OpportunityHistory",
            "OpportunityFieldHistory",
            "ProcessInstance",
            "ProcessInstanceStep",
            "ProcessInstanceWorkitem",
        ),
    ),
    "_cases": (simulate_cases, ("Case", "CaseHistory")),
    "_activities": (simulate_activities, ("Task", "Event", "TaskWhoRelation")),
    "_setup": (simulate_setup, ("SetupAuditTrail",)),
    "_projects": (simulate_projects, ("Project__c", "Project__History", "Invoice__c")),
    "_empty_archive": (_empty_archive, ("FieldHistoryArchive",)),
    "_wide_records": (simulate_wide_records, ("Wide_Record__c",)),
    "_setup_metadata": (simulate_setup_metadata, ("EntityDefinition", "FieldDefinition")),
    "_files": (simulate_files, ("ContentDocument", "ContentDocumentLink")),
}
_FAMILY_OF = {name: key for key, (_, names) in FAMILIES.items() for name in names}


class SyntheticOrg(World):
    """Lazily generated tables of a seeded org, anchored at ``anchor`` (epoch seconds)."""

    def __init__(self, seed: int, scale: int, anchor: int) -> None:
        super().__init__(seed, scale, anchor)
        self._tables: dict[str, pa.Table] = {}
        self._lock = threading.RLock()

    def table(self, object_name: str) -> pa.Table:
        """The object's rows (all of them, deleted and archived included)."""
        with self._lock:
            if object_name not in self._tables:
                key = _FAMILY_OF[object_name]
                simulate = FAMILIES[key][0]
                self._tables.update(simulate(self, random.Random(f"{self.seed}:{key}")))
            return self._tables[object_name]

    def replace(self, object_name: str, table: pa.Table) -> None:
        with self._lock:
            self._tables[object_name] = table
