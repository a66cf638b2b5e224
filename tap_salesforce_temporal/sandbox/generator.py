"""The seeded synthetic org: realistic, time-ordered Salesforce data, deterministic per seed.

Each family of related objects (an opportunity with its snapshots, field history and approvals) is
simulated together so that history agrees with its parent record, and is generated lazily on first
use with its own seeded random stream: a benchmark that only reads OpportunityFieldHistory never
pays for Cases, and the order in which families are touched never changes the data.
"""

from __future__ import annotations

import decimal
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from .columns import TableBuilder
from .ids import make_id
from .metadata import OBJECTS_BY_NAME, STAGES, ObjectSpec

DAY = 86_400
HISTORY_SPAN_DAYS = 720
# Probability and forecast category Salesforce assigns by default to each stage.
STAGE_PROBABILITY = (10, 10, 20, 25, 40, 50, 75, 90, 100, 0)
STAGE_FORECAST = (
    "Pipeline",
    "Pipeline",
    "Pipeline",
    "Pipeline",
    "Pipeline",
    "BestCase",
    "BestCase",
    "Forecast",
    "Closed",
    "Omitted",
)
FORECAST_NAME = {
    "Pipeline": "Pipeline",
    "BestCase": "Best Case",
    "Forecast": "Commit",
    "Closed": "Closed",
    "Omitted": "Omitted",
}
APPROVAL_COMMENTS = (
    "Discount within policy.",
    "Approved, strategic account for the region.",
    "Margin is fine after the revised quote.",
    "OK to proceed, legal reviewed the terms.",
)
REJECTION_COMMENTS = (
    "Margin too low, rework pricing.",
    "Needs a signed NDA before we can quote.",
)
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
FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Eun-ji",
    "Femi",
    "Gita",
    "Hugo",
    "Ines",
    "Jon",
    "Kofi",
    "Lena",
    "Mia",
    "Noor",
    "Omar",
    "Pia",
)
LAST_NAMES = (
    "Alvarez",
    "Brown",
    "Chen",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Patel",
)
COMPANY_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Cyberdyne",
    "Soylent",
    "Tyrell",
    "Wonka",
)
COMPANY_SUFFIX = ("Inc.", "LLC", "GmbH", "Ltd", "S.A.", "Corp")
CITIES = (
    ("San Francisco", "CA", "US", 37.7749, -122.4194),
    ("Austin", "TX", "US", 30.2672, -97.7431),
    ("London", None, "GB", 51.5072, -0.1276),
    ("Berlin", None, "DE", 52.52, 13.405),
    ("Tokyo", None, "JP", 35.6762, 139.6503),
)

# The first account's AnnualRevenue (currency(18, 2)): exact only as a decimal.
BEYOND_FLOAT_REVENUE = decimal.Decimal("9876543210987654.32")


@dataclass(frozen=True)
class OrgSize:
    """How many records of each parent object an org of a given scale has."""

    opportunities: int

    @property
    def users(self) -> int:
        return min(2000, 12 + self.opportunities // 100)

    @property
    def accounts(self) -> int:
        return max(3, self.opportunities // 2)

    @property
    def contacts(self) -> int:
        return 2 * self.accounts

    @property
    def leads(self) -> int:
        return 2 + self.opportunities // 2

    @property
    def cases(self) -> int:
        return 1 + self.opportunities // 2

    @property
    def projects(self) -> int:
        return max(2, self.opportunities // 10)

    @property
    def tasks(self) -> int:
        return 2 * self.opportunities

    @property
    def events(self) -> int:
        return self.opportunities

    @property
    def setup_changes(self) -> int:
        return 20 + self.opportunities // 50


def ms(seconds: float) -> int:
    """Salesforce stores whole seconds; the sandbox keeps milliseconds at .000 like the real API."""
    return int(seconds) * 1000


def day_number(seconds: float) -> int:
    return int(seconds) // DAY


def money_text(value: float | None) -> str | None:
    return None if value is None else repr(float(value))


class SyntheticOrg:
    """Lazily generated tables of a seeded org, anchored at ``anchor`` (epoch seconds)."""

    # User index 0 is the admin, 1 the Automated Process user, 2 the integration user.
    ADMIN, AUTOMATION, INTEGRATION = 0, 1, 2

    def __init__(self, seed: int, scale: int, anchor: int) -> None:
        self.seed = seed
        self.size = OrgSize(max(1, scale))
        self.anchor = anchor
        self._tables: dict[str, pa.Table] = {}
        self._lock = threading.RLock()
        self._families: dict[str, Callable[[random.Random], dict[str, pa.Table]]] = {
            "User": self._users,
            "Account": self._accounts,
            "AccountHistory": self._accounts,
            "Contact": self._accounts,
            "ContactHistory": self._accounts,
            "Lead": self._leads,
            "LeadHistory": self._leads,
            "Opportunity": self._opportunities,
            "OpportunityHistory": self._opportunities,
            "OpportunityFieldHistory": self._opportunities,
            "ProcessInstance": self._opportunities,
            "ProcessInstanceStep": self._opportunities,
            "ProcessInstanceWorkitem": self._opportunities,
            "Case": self._cases,
            "CaseHistory": self._cases,
            "Task": self._activities,
            "Event": self._activities,
            "TaskWhoRelation": self._activities,
            "SetupAuditTrail": self._setup,
            "Project__c": self._projects,
            "Project__History": self._projects,
            "Invoice__c": self._projects,
            "FieldHistoryArchive": self._empty_archive,
            "Wide_Record__c": self._wide_records,
        }

    # --- access -----------------------------------------------------------------------------

    def table(self, object_name: str) -> pa.Table:
        """The object's rows (all of them, deleted and archived included)."""
        with self._lock:
            if object_name not in self._tables:
                family = self._families[object_name]
                rng = random.Random(f"{self.seed}:{family.__name__}")
                self._tables.update(family(rng))
            return self._tables[object_name]

    def replace(self, object_name: str, table: pa.Table) -> None:
        with self._lock:
            self._tables[object_name] = table

    def user_id(self, index: int) -> str:
        return make_id("005", index + 1)

    def _spec(self, name: str) -> ObjectSpec:
        return OBJECTS_BY_NAME[name.lower()]

    def _random_time(self, rng: random.Random, days_back: float, not_before: float = 0) -> int:
        start = max(self.anchor - days_back * DAY, not_before)
        return int(rng.uniform(start, self.anchor - 3600))

    def _sorted_times(self, rng: random.Random, count: int, days_back: float) -> list[int]:
        return sorted(self._random_time(rng, days_back) for _ in range(count))

    def _owner(self, rng: random.Random) -> int:
        """A sales user (never the automation or integration users)."""
        return rng.randrange(3, self.size.users) if self.size.users > 3 else self.ADMIN

    def _actor(self, rng: random.Random, owner: int) -> int:
        """Who made a change: mostly the owner, sometimes automation or an integration."""
        roll = rng.random()
        if roll < 0.08:
            return self.AUTOMATION
        if roll < 0.14:
            return self.INTEGRATION
        return owner

    # --- families ---------------------------------------------------------------------------

    def _users(self, rng: random.Random) -> dict[str, pa.Table]:
        builder = TableBuilder(self._spec("User"))
        created = self._sorted_times(rng, self.size.users, HISTORY_SPAN_DAYS + 200)
        # The first users must exist before anything else happens in the org.
        created = [
            t - (HISTORY_SPAN_DAYS + 200) * DAY if i < 3 else t for i, t in enumerate(created)
        ]
        for index, created_at in enumerate(created):
            if index == self.AUTOMATION:
                first, last, user_type, username = (
                    None,
                    "Automated Process",
                    "AutomatedProcess",
                    "autoproc@00d8d0000000001",
                )
            elif index == self.INTEGRATION:
                first, last, user_type, username = (
                    "Integration",
                    "User",
                    "CloudIntegrationUser",
                    "integration@sandbox.example.com",
                )
            else:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                user_type = (
                    "Standard" if index == self.ADMIN or rng.random() > 0.03 else "PowerPartner"
                )
                username = f"{first.lower()}.{last.lower().replace(chr(39), '')}{index}@sandbox.example.com"
            name = f"{first} {last}" if first else last
            modified = max(created_at, self._random_time(rng, 60))
            builder.add(
                Id=self.user_id(index),
                Username=username,
                FirstName=first,
                LastName=last,
                Name=name,
                Email=username if "@sandbox" in username else None,
                Title="Sales Rep" if index > 2 else None,
                Department=rng.choice(("Sales", "Sales Ops", "Support", None)),
                IsActive=index < 3 or rng.random() > 0.1,
                UserType=user_type,
                ProfileId=make_id("00e", 1 + (index % 3)),
                ManagerId=self.user_id(self.ADMIN) if index > 2 else None,
                TimeZoneSidKey=rng.choice(("America/Los_Angeles", "Europe/London", "Asia/Tokyo")),
                LastLoginDate=ms(modified) if user_type == "Standard" else None,
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(self.ADMIN),
                LastModifiedDate=ms(modified),
                LastModifiedById=self.user_id(self.ADMIN),
                SystemModstamp=ms(modified),
            )
        return {"User": builder.to_table()}

    def _deleted(self, rng: random.Random, after: int, rate: float = 0.02) -> int | None:
        """When a record was soft-deleted (it sits in the recycle bin), or None.

        Deletions happen in the last ten days and always after the record's last change.
        """
        if rng.random() >= rate:
            return None
        deleted_at = int(self.anchor - rng.uniform(0.1, 10) * DAY)
        return deleted_at if deleted_at > after else None

    def _accounts(self, rng: random.Random) -> dict[str, pa.Table]:
        accounts = TableBuilder(self._spec("Account"))
        account_history = TableBuilder(self._spec("AccountHistory"))
        contacts = TableBuilder(self._spec("Contact"))
        contact_history = TableBuilder(self._spec("ContactHistory"))
        ratings = ("Hot", "Warm", "Cold")
        for index, created_at in enumerate(
            self._sorted_times(rng, self.size.accounts, HISTORY_SPAN_DAYS)
        ):
            account_id = make_id("001", index + 1)
            owner = self._owner(rng)
            rating = rng.choice(ratings)
            account_type = "Prospect"
            history = FieldHistoryWriter(account_history, "AccountId", account_id)
            history.created(created_at, self.user_id(owner))
            last_change = created_at
            t = created_at
            for _ in range(rng.randrange(0, 4)):
                t += int(rng.uniform(2, 90) * DAY)
                if t >= self.anchor:
                    break
                actor = self.user_id(self._actor(rng, owner))
                if rng.random() < 0.5:
                    new_rating = rng.choice([r for r in ratings if r != rating])
                    history.change(t, actor, "Rating", "Picklist", rating, new_rating)
                    rating = new_rating
                else:
                    new_type = rng.choice(("Customer - Direct", "Customer - Channel", "Partner"))
                    if new_type != account_type:
                        history.change(t, actor, "Type", "Picklist", account_type, new_type)
                        account_type = new_type
                last_change = t
            deleted_at = self._deleted(rng, after=last_change)
            modified = deleted_at or last_change
            city, state, country, lat, lon = rng.choice(CITIES)
            name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}"
            accounts.add(
                Id=account_id,
                IsDeleted=deleted_at is not None,
                Name=name,
                Type=account_type,
                Industry=rng.choice(
                    ("Banking", "Technology", "Healthcare", "Retail", "Manufacturing")
                ),
                AnnualRevenue=(
                    # Beyond a double's 15-17 digits: a client that parses it as a float loses cents.
                    BEYOND_FLOAT_REVENUE
                    if index == 0
                    else decimal.Decimal(rng.randrange(1, 500) * 100_000)
                ),
                NumberOfEmployees=rng.randrange(5, 20_000),
                Phone=f"+1 415 555 {rng.randrange(1000, 9999)}",
                Website=f"https://www.{name.split()[0].lower()}.example.com",
                Rating=rating,
                BillingStreet=f"{rng.randrange(1, 999)} Market Street\nSuite {rng.randrange(100, 900)}",
                BillingCity=city,
                BillingState=state,
                BillingPostalCode=str(rng.randrange(10000, 99999)),
                BillingCountry=country,
                BillingLatitude=lat + rng.uniform(-0.05, 0.05),
                BillingLongitude=lon + rng.uniform(-0.05, 0.05),
                BillingGeocodeAccuracy="Address",
                Description='Key account, "strategic" tier, renewals handled by CSM'
                if rng.random() < 0.2
                else None,
                OwnerId=self.user_id(owner),
                LastActivityDate=day_number(last_change),
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(owner),
                LastModifiedDate=ms(modified),
                LastModifiedById=self.user_id(owner),
                SystemModstamp=ms(modified),
            )
        for index, created_at in enumerate(
            self._sorted_times(rng, self.size.contacts, HISTORY_SPAN_DAYS)
        ):
            contact_id = make_id("003", index + 1)
            owner = self._owner(rng)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            title = rng.choice(("CFO", "VP Sales", "Buyer", "CTO", "Engineer"))
            history = FieldHistoryWriter(contact_history, "ContactId", contact_id)
            history.created(created_at, self.user_id(owner))
            modified = created_at
            if rng.random() < 0.4:
                t = created_at + int(rng.uniform(5, 200) * DAY)
                if t < self.anchor:
                    new_title = rng.choice(("Director", "Head of Procurement", "COO"))
                    history.change(
                        t, self.user_id(self._actor(rng, owner)), "Title", "Text", title, new_title
                    )
                    title, modified = new_title, t
            deleted_at = self._deleted(rng, after=modified)
            modified = deleted_at or modified
            email = (
                f"{first.lower()}.{last.lower().replace(chr(39), '')}{index}@customer.example.com"
            )
            contacts.add(
                Id=contact_id,
                IsDeleted=deleted_at is not None,
                AccountId=make_id("001", 1 + rng.randrange(self.size.accounts)),
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Email=email,
                Phone=f"+44 20 7946 {rng.randrange(1000, 9999)}",
                Title=title,
                LeadSource=rng.choice(("Web", "Phone Inquiry", "Partner Referral", "Trade Show")),
                MailingCity=rng.choice(CITIES)[0],
                MailingCountry=rng.choice(("US", "GB", "DE")),
                Birthdate=day_number(self.anchor - rng.uniform(25, 60) * 365 * DAY)
                if rng.random() < 0.3
                else None,
                HasOptedOutOfEmail=rng.random() < 0.1,
                OwnerId=self.user_id(owner),
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(owner),
                LastModifiedDate=ms(modified),
                LastModifiedById=self.user_id(owner),
                SystemModstamp=ms(modified),
            )
        return {
            "Account": accounts.to_table(),
            "AccountHistory": account_history.to_table(assign_ids=True, sort_by="CreatedDate"),
            "Contact": contacts.to_table(),
            "ContactHistory": contact_history.to_table(assign_ids=True, sort_by="CreatedDate"),
        }

    def _leads(self, rng: random.Random) -> dict[str, pa.Table]:
        leads = TableBuilder(self._spec("Lead"))
        lead_history = TableBuilder(self._spec("LeadHistory"))
        path = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted")
        for index, created_at in enumerate(
            self._sorted_times(rng, self.size.leads, HISTORY_SPAN_DAYS)
        ):
            lead_id = make_id("00Q", index + 1)
            owner = self._owner(rng)
            history = FieldHistoryWriter(lead_history, "LeadId", lead_id)
            history.created(created_at, self.user_id(owner))
            status, t, modified = path[0], created_at, created_at
            for next_status in path[1:]:
                t += int(rng.uniform(1, 40) * DAY)
                if t >= self.anchor or rng.random() < 0.3:
                    break
                if next_status == path[2] and rng.random() < 0.4:
                    next_status = "Closed - Not Converted"
                history.change(
                    t,
                    self.user_id(self._actor(rng, owner)),
                    "Status",
                    "Picklist",
                    status,
                    next_status,
                )
                status, modified = next_status, t
            converted = status == "Closed - Converted"
            deleted_at = self._deleted(rng, after=modified)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            leads.add(
                Id=lead_id,
                IsDeleted=deleted_at is not None,
                FirstName=first,
                LastName=last,
                Name=f"{first} {last}",
                Company=f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIX)}",
                Email=f"lead{index}@prospect.example.com",
                Status=status,
                LeadSource=rng.choice(("Web", "Phone Inquiry", "Partner Referral", "Trade Show")),
                Rating=rng.choice(("Hot", "Warm", "Cold")),
                IsConverted=converted,
                ConvertedDate=day_number(modified) if converted else None,
                ConvertedAccountId=make_id("001", 1 + rng.randrange(self.size.accounts))
                if converted
                else None,
                OwnerId=self.user_id(owner),
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(owner),
                LastModifiedDate=ms(deleted_at or modified),
                LastModifiedById=self.user_id(owner),
                SystemModstamp=ms(deleted_at or modified),
            )
        return {
            "Lead": leads.to_table(),
            "LeadHistory": lead_history.to_table(assign_ids=True, sort_by="CreatedDate"),
        }

    def _opportunities(self, rng: random.Random) -> dict[str, pa.Table]:
        from .opportunities import simulate_opportunities

        return simulate_opportunities(self, rng)

    def _cases(self, rng: random.Random) -> dict[str, pa.Table]:
        cases = TableBuilder(self._spec("Case"))
        case_history = TableBuilder(self._spec("CaseHistory"))
        for index, created_at in enumerate(
            self._sorted_times(rng, self.size.cases, HISTORY_SPAN_DAYS)
        ):
            case_id = make_id("500", index + 1)
            owner = self._owner(rng)
            history = FieldHistoryWriter(case_history, "CaseId", case_id)
            history.created(created_at, self.user_id(owner))
            status, priority, t, modified = (
                "New",
                rng.choice(("High", "Medium", "Low")),
                created_at,
                created_at,
            )
            path = (
                ["Working", "Escalated", "Closed"] if rng.random() < 0.2 else ["Working", "Closed"]
            )
            for next_status in path:
                t += int(rng.uniform(0.1, 10) * DAY)
                if t >= self.anchor:
                    break
                actor = self.user_id(self._actor(rng, owner))
                history.change(t, actor, "Status", "Picklist", status, next_status)
                if next_status == "Escalated" and priority != "High":
                    history.change(t, actor, "Priority", "Picklist", priority, "High")
                    priority = "High"
                status, modified = next_status, t
            deleted_at = self._deleted(rng, after=modified)
            closed = status == "Closed"
            cases.add(
                Id=case_id,
                IsDeleted=deleted_at is not None,
                CaseNumber=f"{index + 1:08d}",
                AccountId=make_id("001", 1 + rng.randrange(self.size.accounts)),
                ContactId=make_id("003", 1 + rng.randrange(self.size.contacts)),
                Subject=rng.choice(
                    (
                        "Cannot log in",
                        "Invoice question",
                        "Integration error 500",
                        "Feature request",
                    )
                ),
                Status=status,
                Priority=priority,
                Origin=rng.choice(("Phone", "Email", "Web")),
                Reason=rng.choice(
                    ("Installation", "Equipment Complexity", "Performance", "Breakdown")
                ),
                IsClosed=closed,
                ClosedDate=ms(modified) if closed else None,
                IsEscalated="Escalated" in path and t >= created_at,
                Description=None,
                OwnerId=self.user_id(owner),
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(owner),
                LastModifiedDate=ms(deleted_at or modified),
                LastModifiedById=self.user_id(owner),
                SystemModstamp=ms(deleted_at or modified),
            )
        return {
            "Case": cases.to_table(),
            "CaseHistory": case_history.to_table(assign_ids=True, sort_by="CreatedDate"),
        }

    def _activities(self, rng: random.Random) -> dict[str, pa.Table]:
        from .activities import simulate_activities

        return simulate_activities(self, rng)

    def _setup(self, rng: random.Random) -> dict[str, pa.Table]:
        trail = TableBuilder(self._spec("SetupAuditTrail"))
        for created_at in self._sorted_times(rng, self.size.setup_changes, 180):
            section, action, display = rng.choice(SETUP_CHANGES)
            actor = (
                self.AUTOMATION
                if rng.random() < 0.1
                else (self.ADMIN if rng.random() < 0.7 else self._owner(rng))
            )
            target = f"user{rng.randrange(1, 999)}@sandbox.example.com"
            trail.add(
                Action=action,
                Section=section,
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(actor),
                Display=display.format(user=target),
                DelegateUser="admin@partner.example.com" if rng.random() < 0.05 else None,
                ResponsibleNamespacePrefix=None,
                CreatedByContext="Automated Process" if actor == self.AUTOMATION else None,
                CreatedByIssuer=None,
            )
        return {"SetupAuditTrail": trail.to_table(assign_ids=True, sort_by="CreatedDate")}

    def _projects(self, rng: random.Random) -> dict[str, pa.Table]:
        projects = TableBuilder(self._spec("Project__c"))
        project_history = TableBuilder(self._spec("Project__History"))
        invoices = TableBuilder(self._spec("Invoice__c"))
        statuses = ("Planned", "Active", "On Hold", "Done")
        for index, created_at in enumerate(
            self._sorted_times(rng, self.size.projects, HISTORY_SPAN_DAYS)
        ):
            project_id = make_id("a00", index + 1)
            owner = self._owner(rng)
            history = FieldHistoryWriter(project_history, "ParentId", project_id)
            history.created(created_at, self.user_id(owner))
            status, budget, t, modified = (
                "Planned",
                float(rng.randrange(10, 500) * 1000),
                created_at,
                created_at,
            )
            for next_status in ("Active", "Done"):
                t += int(rng.uniform(5, 60) * DAY)
                if t >= self.anchor:
                    break
                actor = self.user_id(self._actor(rng, owner))
                history.change(t, actor, "Status__c", "Picklist", status, next_status)
                if rng.random() < 0.3:
                    new_budget = round(budget * rng.uniform(1.05, 1.5), 2)
                    history.change(
                        t,
                        actor,
                        "Budget__c",
                        "Currency",
                        money_text(budget),
                        money_text(new_budget),
                    )
                    budget = new_budget
                status, modified = next_status, t
            city = rng.choice(CITIES)
            projects.add(
                Id=project_id,
                IsDeleted=False,
                Name=f"PRJ-{index + 1:05d}",
                OwnerId=self.user_id(owner),
                Account__c=make_id("001", 1 + rng.randrange(self.size.accounts)),
                Status__c=status if status in statuses else "Active",
                Budget__c=budget,
                Completion__c=round(rng.uniform(0, 100), 2),
                Start_Date__c=day_number(created_at + 7 * DAY),
                Kickoff_Time__c=f"{rng.randrange(8, 18):02d}:{rng.choice(('00', '30'))}:00.000Z",
                Tags__c=";".join(
                    sorted(
                        rng.sample(
                            ("Migration", "Analytics", "Security", "Integration"),
                            rng.randrange(1, 3),
                        )
                    )
                ),
                Is_Critical__c=rng.random() < 0.2,
                Health_Score__c=round(rng.uniform(1, 10), 1),
                Headcount__c=float(rng.randrange(1, 40)),
                Notes__c='Kick-off done.\nRisks: data quality, "legacy" ERP.'
                if rng.random() < 0.3
                else None,
                Site_Location__Latitude__s=city[3],
                Site_Location__Longitude__s=city[4],
                Internal_Cost__c=float(rng.randrange(1, 100) * 1000),
                CreatedDate=ms(created_at),
                CreatedById=self.user_id(owner),
                LastModifiedDate=ms(modified),
                LastModifiedById=self.user_id(owner),
                SystemModstamp=ms(modified),
            )
            for _ in range(2):
                issued = min(modified + int(rng.uniform(1, 30) * DAY), self.anchor - DAY)
                invoices.add(
                    Id=make_id("a02", invoices.rows + 1),
                    IsDeleted=False,
                    Name=f"INV-{invoices.rows + 1:06d}",
                    Project__c=project_id,
                    Amount__c=round(budget / rng.randrange(2, 6), 2),
                    Status__c=rng.choice(("Draft", "Sent", "Paid")),
                    Due_Date__c=day_number(issued + 30 * DAY),
                    OwnerId=self.user_id(owner),
                    CreatedDate=ms(issued),
                    CreatedById=self.user_id(owner),
                    LastModifiedDate=ms(issued),
                    LastModifiedById=self.user_id(owner),
                    SystemModstamp=ms(issued),
                )
        return {
            "Project__c": projects.to_table(),
            "Project__History": project_history.to_table(assign_ids=True, sort_by="CreatedDate"),
            "Invoice__c": invoices.to_table(),
        }

    def _wide_records(self, rng: random.Random) -> dict[str, pa.Table]:
        spec = self._spec("Wide_Record__c")
        builder = TableBuilder(spec)
        count = max(5, self.size.opportunities // 20)
        for index, created in enumerate(self._sorted_times(rng, count, HISTORY_SPAN_DAYS)):
            values: dict[str, object] = {}
            for field in spec.fields:
                if not field.name.startswith("Quarterly_"):
                    continue
                roll = rng.random()
                if roll < 0.1:
                    continue  # some nulls
                values[field.name] = {
                    "string": lambda: f"value {rng.randrange(1000)}",
                    "double": lambda: round(rng.uniform(0, 1000), 2),
                    "boolean": lambda: rng.random() < 0.5,
                    "date": lambda created=created: day_number(created),
                }[field.type]()
            builder.add(
                Id=make_id("a03", index + 1), IsDeleted=False, Name=f"W-{index + 1:05d}", CreatedDate=ms(created), CreatedById=self.user_id(self.ADMIN),
                LastModifiedDate=ms(created), LastModifiedById=self.user_id(self.ADMIN), SystemModstamp=ms(created), **values,
            )  # fmt: skip
        return {"Wide_Record__c": builder.to_table()}

    def _empty_archive(self, rng: random.Random) -> dict[str, pa.Table]:
        return {"FieldHistoryArchive": TableBuilder(self._spec("FieldHistoryArchive")).to_table()}


class FieldHistoryWriter:
    """Writes the rows Salesforce's field history tracking records for one parent record."""

    def __init__(self, builder: TableBuilder, parent_field: str, parent_id: str) -> None:
        self.builder = builder
        self.parent_field = parent_field
        self.parent_id = parent_id

    def created(self, at: int, actor_id: str) -> None:
        self._row(at, actor_id, "created", "Text", None, None)

    def change(
        self, at: int, actor_id: str, field: str, data_type: str, old: object, new: object
    ) -> None:
        self._row(at, actor_id, field, data_type, old, new)

    def _row(
        self, at: int, actor_id: str, field: str, data_type: str, old: object, new: object
    ) -> None:
        self.builder.add(
            IsDeleted=False,
            CreatedById=actor_id,
            CreatedDate=ms(at),
            Field=field,
            DataType=data_type,
            OldValue=None if old is None else str(old),
            NewValue=None if new is None else str(new),
            **{self.parent_field: self.parent_id},
        )


__all__ = ["STAGES", "FieldHistoryWriter", "OrgSize", "SyntheticOrg"]
