"""A small hand-written org whose decisions are known exactly: the ground truth of the events tests.

Sam Seller's opportunity "Acme - Platform deal" moves Prospecting -> Qualification -> Closed Won,
its amount is raised by the integration user, a two-step discount approval is started and approved
by Maria Manager with a comment, Sam completes a call and holds a kickoff meeting, and the Automated
Process user activates a flow. A second opportunity, "Globex - Renewal", goes from Prospecting to
Closed Lost after exactly 20 days, and Ada Admin deactivates a user (a critical setup change).
Load it with ``SandboxOrg(org=DecisionScenario())``.
"""

from __future__ import annotations

import datetime as dt

from synthetic_org.data.columns import TableBuilder
from synthetic_org.data.org import SyntheticOrg
from synthetic_org.ids import make_id
from synthetic_org.metadata import OBJECTS


def at(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 UTC timestamp."""
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def day(text: str) -> int:
    return (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days


ADMIN, AUTOMATION, INTEGRATION, SAM, MARIA = (make_id("005", n) for n in range(1, 6))
ACCOUNT = make_id("001", 1)
CONTACT = make_id("003", 1)
OPPORTUNITY = make_id("006", 1)
RENEWAL = make_id("006", 2)
PROCESS = make_id("04g", 1)
DEFINITION = make_id("04a", 2)
STEP_STARTED, STEP_APPROVED = make_id("04h", 1), make_id("04h", 2)
TASK = make_id("00T", 1)
MEETING = make_id("00U", 1)
SETUP, DEACTIVATION = make_id("0Ym", 1), make_id("0Ym", 2)
SNAPSHOTS = [make_id("008", n) for n in range(1, 7)]
FIELD_HISTORY = [make_id("017", n) for n in range(1, 7)]


class DecisionScenario(SyntheticOrg):
    def __init__(self) -> None:
        super().__init__(seed=0, scale=1, anchor=at("2025-04-01T00:00:00Z") // 1000)
        # Setup metadata (FieldDefinition...) stays derived from the catalogue: only data objects here.
        tables = {spec.name: TableBuilder(spec) for spec in OBJECTS if spec.listed}
        audit = {"CreatedById": ADMIN, "LastModifiedById": ADMIN}
        users = [
            (ADMIN, "Ada", "Admin", "Standard"),
            (AUTOMATION, None, "Automated Process", "AutomatedProcess"),
            (INTEGRATION, "Integration", "User", "CloudIntegrationUser"),
            (SAM, "Sam", "Seller", "Standard"),
            (MARIA, "Maria", "Manager", "Standard"),
        ]
        for user_id, first, last, user_type in users:
            tables["User"].add(
                Id=user_id, Username=f"{last.lower().replace(' ', '.')}@scenario.example.com", FirstName=first, LastName=last,
                Name=f"{first} {last}" if first else last, IsActive=True, UserType=user_type,
                CreatedDate=at("2024-01-01T00:00:00Z"), LastModifiedDate=at("2024-01-01T00:00:00Z"), SystemModstamp=at("2024-01-01T00:00:00Z"), **audit,
            )  # fmt: skip
        created = at("2025-03-01T08:00:00Z")
        tables["Account"].add(
            Id=ACCOUNT,
            IsDeleted=False,
            Name="Acme Corp",
            OwnerId=SAM,
            CreatedDate=created,
            LastModifiedDate=created,
            SystemModstamp=created,
            **audit,
        )
        tables["Contact"].add(
            Id=CONTACT,
            IsDeleted=False,
            AccountId=ACCOUNT,
            FirstName="Cleo",
            LastName="Buyer",
            Name="Cleo Buyer",
            HasOptedOutOfEmail=False,
            OwnerId=SAM,
            CreatedDate=created,
            LastModifiedDate=created,
            SystemModstamp=created,
            **audit,
        )
        won = at("2025-03-20T12:00:00Z")
        tables["Opportunity"].add(
            Id=OPPORTUNITY, IsDeleted=False, AccountId=ACCOUNT, Name="Acme - Platform deal", StageName="Closed Won", Amount=65000.0,
            Probability=100.0, ExpectedRevenue=65000.0, CloseDate=day("2025-03-20"), IsClosed=True, IsWon=True, ForecastCategory="Closed",
            ForecastCategoryName="Closed", OwnerId=SAM, LastStageChangeDate=won, CreatedDate=at("2025-03-03T09:00:00Z"), CreatedById=SAM,
            LastModifiedDate=won, LastModifiedById=SAM, SystemModstamp=won,
        )  # fmt: skip
        lost = at("2025-03-25T10:00:00Z")
        tables["Opportunity"].add(
            Id=RENEWAL, IsDeleted=False, AccountId=ACCOUNT, Name="Globex - Renewal", StageName="Closed Lost", Amount=20000.0,
            Probability=0.0, ExpectedRevenue=0.0, CloseDate=day("2025-03-25"), IsClosed=True, IsWon=False, ForecastCategory="Omitted",
            ForecastCategoryName="Omitted", OwnerId=SAM, LastStageChangeDate=lost, CreatedDate=at("2025-03-05T10:00:00Z"), CreatedById=SAM,
            LastModifiedDate=lost, LastModifiedById=SAM, SystemModstamp=lost,
        )  # fmt: skip
        snapshots = [
            ("2025-03-03T09:00:00Z", SAM, "Prospecting", 50000.0, 10.0, "2025-04-30", "Pipeline"),
            ("2025-03-10T10:00:00Z", SAM, "Qualification", 50000.0, 10.0, "2025-04-30", "Pipeline"),
            (
                "2025-03-12T15:30:00Z",
                INTEGRATION,
                "Qualification",
                65000.0,
                10.0,
                "2025-04-30",
                "Pipeline",
            ),
            ("2025-03-20T12:00:00Z", SAM, "Closed Won", 65000.0, 100.0, "2025-03-20", "Closed"),
        ]
        renewal = [
            ("2025-03-05T10:00:00Z", SAM, "Prospecting", 20000.0, 10.0, "2025-03-31", "Pipeline"),
            ("2025-03-25T10:00:00Z", SAM, "Closed Lost", 20000.0, 0.0, "2025-03-25", "Omitted"),
        ]
        owners = [OPPORTUNITY] * len(snapshots) + [RENEWAL] * len(renewal)
        for snapshot_id, opportunity, (
            when,
            actor,
            stage,
            amount,
            probability,
            close,
            forecast,
        ) in zip(SNAPSHOTS, owners, snapshots + renewal, strict=True):
            tables["OpportunityHistory"].add(
                Id=snapshot_id, IsDeleted=False, OpportunityId=opportunity, CreatedById=actor, CreatedDate=at(when), StageName=stage, Amount=amount,
                ExpectedRevenue=amount * probability / 100, CloseDate=day(close), Probability=probability, ForecastCategory=forecast, SystemModstamp=at(when),
            )  # fmt: skip
        changes = [
            ("2025-03-03T09:00:00Z", SAM, "created", "Text", None, None),
            ("2025-03-10T10:00:00Z", SAM, "StageName", "Picklist", "Prospecting", "Qualification"),
            ("2025-03-12T15:30:00Z", INTEGRATION, "Amount", "Currency", "50000.0", "65000.0"),
            ("2025-03-20T12:00:00Z", SAM, "StageName", "Picklist", "Qualification", "Closed Won"),
            ("2025-03-05T10:00:00Z", SAM, "created", "Text", None, None),
            ("2025-03-25T10:00:00Z", SAM, "StageName", "Picklist", "Prospecting", "Closed Lost"),
        ]
        for row_id, opportunity, (when, actor, field, data_type, old, new) in zip(
            FIELD_HISTORY, [OPPORTUNITY] * 4 + [RENEWAL] * 2, changes, strict=True
        ):
            tables["OpportunityFieldHistory"].add(
                Id=row_id,
                IsDeleted=False,
                OpportunityId=opportunity,
                CreatedById=actor,
                CreatedDate=at(when),
                Field=field,
                DataType=data_type,
                OldValue=old,
                NewValue=new,
            )
        submitted, approved = at("2025-03-15T09:00:00Z"), at("2025-03-16T11:00:00Z")
        tables["ProcessInstance"].add(
            Id=PROCESS, IsDeleted=False, ProcessDefinitionId=DEFINITION, TargetObjectId=OPPORTUNITY, Status="Approved", CompletedDate=approved,
            LastActorId=MARIA, SubmittedById=SAM, ElapsedTimeInDays=1.083, ElapsedTimeInHours=26.0, ElapsedTimeInMinutes=1560.0,
            CreatedDate=submitted, CreatedById=SAM, LastModifiedDate=approved, LastModifiedById=MARIA, SystemModstamp=approved,
        )  # fmt: skip
        tables["ProcessInstanceStep"].add(
            Id=STEP_STARTED, ProcessInstanceId=PROCESS, StepStatus="Started", OriginalActorId=SAM, ActorId=SAM, Comments="Please approve a 10% discount.",
            StepNodeId=None, ElapsedTimeInDays=0.0, ElapsedTimeInHours=0.0, ElapsedTimeInMinutes=0.0, CreatedDate=submitted, CreatedById=SAM, SystemModstamp=submitted,
        )  # fmt: skip
        tables["ProcessInstanceStep"].add(
            Id=STEP_APPROVED, ProcessInstanceId=PROCESS, StepStatus="Approved", OriginalActorId=MARIA, ActorId=MARIA, Comments="Approved - strategic account.",
            StepNodeId=make_id("04b", 1), ElapsedTimeInDays=1.083, ElapsedTimeInHours=26.0, ElapsedTimeInMinutes=1560.0, CreatedDate=approved, CreatedById=MARIA, SystemModstamp=approved,
        )  # fmt: skip
        called = at("2025-03-11T14:00:00Z")
        tables["Task"].add(
            Id=TASK, IsDeleted=False, WhoId=CONTACT, WhatId=OPPORTUNITY, AccountId=ACCOUNT, Subject="Call to confirm pricing", ActivityDate=day("2025-03-11"),
            Status="Completed", Priority="Normal", IsClosed=True, Type="Call", TaskSubtype="Call", CompletedDateTime=called, IsArchived=False, OwnerId=SAM,
            CreatedDate=at("2025-03-11T08:00:00Z"), CreatedById=SAM, LastModifiedDate=called, LastModifiedById=SAM, SystemModstamp=called,
        )  # fmt: skip
        tables["Event"].add(
            Id=MEETING, IsDeleted=False, WhoId=CONTACT, WhatId=OPPORTUNITY, AccountId=ACCOUNT, Subject="Kickoff meeting", Location="Zoom",
            StartDateTime=at("2025-03-18T13:00:00Z"), EndDateTime=at("2025-03-18T14:00:00Z"), ActivityDateTime=at("2025-03-18T13:00:00Z"),
            ActivityDate=day("2025-03-18"), DurationInMinutes=60, EventSubtype="Event", Type="Meeting", IsArchived=False, OwnerId=SAM,
            CreatedDate=at("2025-03-14T09:00:00Z"), CreatedById=SAM, LastModifiedDate=at("2025-03-14T09:00:00Z"), LastModifiedById=SAM,
            SystemModstamp=at("2025-03-14T09:00:00Z"),
        )  # fmt: skip
        tables["TaskWhoRelation"].add(
            Id=make_id("0RT", 1),
            IsDeleted=False,
            TaskId=TASK,
            RelationId=CONTACT,
            Type="Contact",
            CreatedDate=called,
            LastModifiedDate=called,
            SystemModstamp=called,
            **audit,
        )
        tables["SetupAuditTrail"].add(
            Id=SETUP, Action="activatedinteractiondefversion", Section="Flows", CreatedDate=at("2025-03-05T08:00:00Z"), CreatedById=AUTOMATION,
            Display='Activated flow version #2 "Stage Sync"', DelegateUser=None, ResponsibleNamespacePrefix=None, CreatedByContext="Automated Process", CreatedByIssuer=None,
        )  # fmt: skip
        tables["SetupAuditTrail"].add(
            Id=DEACTIVATION, Action="deactivateduser", Section="Manage Users", CreatedDate=at("2025-03-25T16:00:00Z"), CreatedById=ADMIN,
            Display="Deactivated user Old Contractor", DelegateUser=None, ResponsibleNamespacePrefix=None, CreatedByContext=None, CreatedByIssuer=None,
        )  # fmt: skip
        self._tables = {name: builder.to_table() for name, builder in tables.items()}
