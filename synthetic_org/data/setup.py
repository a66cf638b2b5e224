"""SetupAuditTrail: the last 180 days of configuration changes."""

from __future__ import annotations

import random

import pyarrow as pa

from .base import World, ms, spec
from .columns import TableBuilder

SETUP_CHANGES = (
    ("Manage Users", "deactivateduser", "Deactivated user {user}"),
    ("Manage Users", "createduser", "Created new user {user}"),
    (
        "Manage Users",
        "changedprofileforuser",
        "Changed profile for user {user} from Standard User to System Administrator",
    ),
    ("Manage Users", "PermSetAssign", "Permission set Sales Operations: assigned to user {user}"),
    ("Customize Opportunities", "picklistValues", "Changed picklist values for Stage"),
    ("Customize Accounts", "createdCF", "Created custom field Tier (Picklist)"),
    (
        "Session Settings",
        "changedSessionTimeout",
        "Changed session timeout from 2 hours to 8 hours",
    ),
    (
        "Password Policies",
        "passwordHistory",
        "Changed password history from 3 passwords remembered to 1",
    ),
    ("Network Access", "addedTrustedIP", "Added trusted IP range 10.0.0.0 to 10.0.0.255"),
    (
        "Profiles",
        "profileFlsChanged",
        "Changed profile Standard User: field-level security for Opportunity: Amount was Read/Write, now Read Only",
    ),
    ("Apex Class", "changedApexClass", "Changed Apex class code: OpportunityTriggerHandler"),
    (
        "Flows",
        "activatedinteractiondefversion",
        'Activated flow version #3 "Opportunity Stage Sync"',
    ),
)


def simulate_setup(org: World, rng: random.Random) -> dict[str, pa.Table]:
    trail = TableBuilder(spec("SetupAuditTrail"))
    for created_at in org.sorted_times(rng, org.size.setup_changes, 180):
        section, action, display = rng.choice(SETUP_CHANGES)
        actor = (
            org.AUTOMATION
            if rng.random() < 0.1
            else (org.ADMIN if rng.random() < 0.7 else org.owner(rng))
        )
        target = f"user{rng.randrange(1, 999)}@sandbox.example.com"
        trail.add(
            Action=action,
            Section=section,
            CreatedDate=ms(created_at),
            CreatedById=org.user_id(actor),
            Display=display.format(user=target),
            DelegateUser="admin@partner.example.com" if rng.random() < 0.05 else None,
            ResponsibleNamespacePrefix=None,
            CreatedByContext="Automated Process" if actor == org.AUTOMATION else None,
            CreatedByIssuer=None,
        )
    return {"SetupAuditTrail": trail.to_table(assign_ids=True, sort_by="CreatedDate")}
